// Flag parsing of culex pub / sub / rr: defaults as Mosquitto's, and every argument error worded
// and exiting as mosquitto_pub / mosquitto_sub / mosquitto_rr word and exit it.
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { parseClientArgs } from '../../src/cli/client-args.js';
import type { ClientCommand, ClientOptions } from '../../src/cli/client-options.js';
import { connectProperties, publishProperties, willProperties } from '../../src/cli/client-properties.js';
import { runPub } from '../../src/cli/pub.js';
import { runRr } from '../../src/cli/rr.js';
import { runSub } from '../../src/cli/sub.js';
import { runCulex, runTool } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';

function options(command: ClientCommand, argv: string[]): ClientOptions {
  const result = parseClientArgs(command, argv);
  assert.equal(result.kind, 'run', result.kind === 'error' ? result.message : result.kind);
  return (result as { options: ClientOptions }).options;
}

/** Runs a command's main in this process with captured streams (only for runs that never connect). */
async function runHere(command: ClientCommand, argv: string[]): Promise<[number, string, string]> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: [Buffer[], Buffer[]] = [[], []];
  stdout.on('data', (c: Buffer) => chunks[0].push(c));
  stderr.on('data', (c: Buffer) => chunks[1].push(c));
  const run = command === 'pub' ? runPub : command === 'sub' ? runSub : runRr;
  const code = await run(argv, { stdout, stderr, stdin: Readable.from([]) });
  return [code, Buffer.concat(chunks[0]).toString(), Buffer.concat(chunks[1]).toString()];
}

describe('defaults', () => {
  test('pub defaults to localhost:1883, MQTT 3.1.1, keepalive 60, QoS 0 and an empty client id', () => {
    const o = options('pub', ['-t', 't', '-m', 'm']);
    assert.deepEqual(
      [o.host, o.port, o.protocolVersion, o.keepalive, o.qos, o.clientId, o.cleanSession, o.tls],
      ['localhost', 1883, 4, 60, 0, '', true, undefined],
    );
  });

  test('MQTT 3.1 clients without -i get "mosq-" and 18 random alphanumerics; -I appends the PID', () => {
    assert.match(options('sub', ['-t', 't', '-V', 'mqttv31']).clientId, /^mosq-[A-Za-z0-9]{18}$/);
    assert.equal(options('sub', ['-t', 't', '-I', 'pre-']).clientId, `pre-${process.pid}`);
  });

  test('rr defaults to MQTT v5 and one message; -D switches pub and sub to v5', () => {
    const rr = options('rr', ['-t', 'q', '-e', 'r', '-m', 'x']);
    assert.deepEqual([rr.protocolVersion, rr.messageCount], [5, 1]);
    assert.equal(options('pub', ['-t', 't', '-m', 'm', '-D', 'publish', 'content-type', 'text/plain']).protocolVersion, 5);
  });

  test('-L parses user, password, host, port and topic; mqtts:// means TLS on 8883', () => {
    const plain = options('pub', ['-L', 'mqtt://bob:pw:x@example.net:1999/a/b', '-m', 'x']);
    assert.deepEqual([plain.username, plain.password, plain.host, plain.port, plain.topic, plain.tls], ['bob', 'pw:x', 'example.net', 1999, 'a/b', undefined]);
    const secure = options('sub', ['-L', 'mqtts://example.net/#']);
    assert.deepEqual([secure.port, secure.topics, secure.tls?.insecure], [8883, ['#'], false]);
    assert.equal(options('pub', ['-t', 't', '-m', 'm', '--cafile', '/ca.pem']).port, 8883);
  });

  test('v5 -c without -x keeps the session for ever (session-expiry-interval 4294967295)', () => {
    const o = options('sub', ['-t', 't', '-V', '5', '-c', '-i', 'me']);
    assert.equal(connectProperties(o.properties.connect)?.sessionExpiryInterval, 0xffffffff);
    assert.equal(connectProperties(options('sub', ['-t', 't', '-V', '5', '-x', '60']).properties.connect)?.sessionExpiryInterval, 60);
  });

  test('-D values become MQTT.js properties: repeated user properties kept, binary as Buffer, flags as booleans', () => {
    const o = options('pub', [
      '-t', 't', '-m', 'm',
      '-D', 'publish', 'user-property', 'a', '1', '-D', 'publish', 'user-property', 'a', '2',
      '-D', 'publish', 'correlation-data', 'id-7', '-D', 'publish', 'payload-format-indicator', '1',
      '-D', 'will', 'will-delay-interval', '0x10',
    ]);
    assert.deepEqual(publishProperties(o.properties.publish), {
      payloadFormatIndicator: true, correlationData: Buffer.from('id-7'), userProperties: { a: ['1', '2'] },
    });
    assert.deepEqual(willProperties(o.properties.will), { willDelayInterval: 16 });
  });
});

/** Argument vectors whose errors must read exactly like Mosquitto's (names aside). */
const errorCases: readonly [ClientCommand, string[]][] = [
  ['pub', ['-t', 'a']],
  ['pub', ['-t', 'a/#', '-m', 'b']],
  ['pub', ['-t', 'a', '-m', 'b', '-n']],
  ['pub', ['-t', 'a', '-m', 'b', '-q', '3']],
  ['pub', ['-t', 'a', '-m', 'b', '-i', 'x', '-I', 'y']],
  ['pub', ['-t', 'a', '-m', 'b', '-p']],
  ['pub', ['-t', 'a', '-m', 'b', '-k', '2']],
  ['pub', ['-t', 'a', '-m', 'b', '-V', '7']],
  ['pub', ['-t', 'a', '-m', 'b', '-c']],
  ['pub', ['-t', 'a', '-m', 'b', '-V', '5', '-c']],
  ['pub', ['-t', 'a', '-m', 'b', '-c', '-i', '']],
  ['pub', ['-t', 'a', '-m', 'b', '--bogus']],
  ['pub', ['-t', 'a', '-m', 'b', '-v']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'publish', 'bogus', '1']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'nothing', 'content-type', '1']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'connect', 'content-type', 'x']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'publish', 'content-type']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'publish', 'content-type', 'a', '-D', 'publish', 'content-type', 'b']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'publish', 'topic-alias', '0']],
  ['pub', ['-t', 'a', '-m', 'b', '-D', 'publish', 'subscription-identifier', '3']],
  ['pub', ['-t', 'a', '-m', 'b', '--will-payload', 'x']],
  ['pub', ['-t', 'a', '-m', 'b', '--cert', 'x']],
  ['pub', ['-m', 'b', '-L', 'http://localhost/a']],
  ['pub', ['-m', 'b', '-L', 'mqtt://localhost']],
  ['pub', ['-t', 'a', '-m', 'b', '-V', '5', '-x', 'abc']],
  ['sub', []],
  ['sub', ['-t', 'a/#/b']],
  ['sub', ['-t', 'a+']],
  ['sub', ['-t', 'a', '-R', '--retained-only']],
  ['sub', ['-t', 'a', '-C', '0']],
  ['sub', ['-t', 'a', '-W', '0']],
  ['sub', ['-t', 'a', '-F', '%Z']],
  ['sub', ['-t', 'a', '-F', 'x%']],
  ['sub', ['-t', 'a', '-F', '\\q']],
  ['sub', ['-t', 'a', '-m', 'x']],
  ['sub', ['-t', 'a', '-T', '#/a']],
  ['rr', ['-t', 'a', '-m', 'b']],
  ['rr', ['-e', 'a/#', '-t', 'b', '-m', 'x']],
  ['rr', ['-e', 'a', '-t', 'b', '-l']],
];

describe('argument errors match Mosquitto', { concurrency: 4 }, () => {
  for (const [command, argv] of errorCases) {
    test(`culex ${command} ${argv.join(' ') || '(no arguments)'}`, async (t) => {
      if (!needTools(t, [`mosquitto_${command}`])) return;
      const [culex, mosquitto] = await Promise.all([runHere(command, argv), runTool(`mosquitto_${command}`, argv)]);
      const neutral = (text: string): string => text.replaceAll(`mosquitto_${command}`, `culex ${command}`);
      assert.equal(culex[0], mosquitto.code, 'exit code');
      assert.equal(culex[2], neutral(mosquitto.stderr), 'stderr');
      if (mosquitto.stdout === '') assert.equal(culex[1], '', 'stdout');
    });
  }

  test('--help and --version print to stdout and exit 1, as Mosquitto does', async () => {
    const [help, version] = await Promise.all([runHere('sub', ['--help']), runHere('pub', ['--version'])]);
    assert.equal(help[0], 1);
    assert.match(help[1], /^Usage: culex sub /m);
    assert.deepEqual([version[0], version[2]], [1, '']);
    assert.match(version[1], /^culex pub version \S+ running on MQTT.js \S+\.\n$/);
  });

  test('a child process reports an argument error with exit 1 and the usage text on stdout', async () => {
    const result = await runCulex('pub', ['-t', 'only-a-topic']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'Error: Both topic and message must be supplied.\n');
    assert.match(result.stdout, /^Usage: culex pub /m);
  });
});
