// culex pub and culex sub against Debian's Mosquitto: QoS, retained messages, wildcards,
// payload sources, output forms and the -C/-W/-E exit rules of mosquitto_sub.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.js';
import { runCulex, runTool, startCulex, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';

const tools = ['mosquitto', 'mosquitto_pub', 'mosquitto_sub'];
let broker: MosquittoBroker | undefined;
let scratch = '';

before(async () => {
  if (tools.every(requireTool)) broker = await startMosquitto();
  scratch = mkdtempSync(join(tmpdir(), 'culex-cli-'));
});
after(async () => {
  await broker?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** -h/-p for the shared broker, or undefined when the test was skipped. */
function target(t: TestContext): string[] | undefined {
  if (!needTools(t, tools) || !broker) return undefined;
  return ['-h', '127.0.0.1', '-p', String(broker.port)];
}

describe('culex pub and culex sub against Mosquitto', { concurrency: 4 }, () => {
  test('messages published at QoS 0, 1 and 2 arrive with the QoS they were sent at', async (t) => {
    const at = target(t);
    if (!at) return;
    const sub = startCulex('sub', [...at, '-q', '2', '-t', 'qos/#', '-C', '3', '-F', '%t %q %p', '-d']);
    await sub.waitForStdout(subscribed);
    for (const qos of ['0', '1', '2']) {
      const pub = await runCulex('pub', [...at, '-q', qos, '-t', `qos/${qos}`, '-m', `at qos ${qos}`]);
      assert.equal(pub.code, 0, pub.stderr);
    }
    const result = await sub.result();
    assert.equal(result.code, 0);
    assert.deepEqual(withoutTrace(result.stdout).trim().split('\n').sort(), ['qos/0 0 at qos 0', 'qos/1 1 at qos 1', 'qos/2 2 at qos 2']);
  });

  test('a retained message (-r) reaches later subscribers flagged retained, and -R hides it', async (t) => {
    const at = target(t);
    if (!at) return;
    assert.equal((await runCulex('pub', [...at, '-r', '-q', '1', '-t', 'retained/a', '-m', 'kept'])).code, 0);
    const late = await runCulex('sub', [...at, '-t', 'retained/#', '-C', '1', '-F', '%r %t %p']);
    assert.deepEqual([late.code, late.stdout], [0, '1 retained/a kept\n']);
    const hidden = await runCulex('sub', [...at, '-t', 'retained/#', '-R', '-W', '2']);
    assert.deepEqual([hidden.code, hidden.stdout, hidden.stderr], [27, '', 'Timed out\n']);
  });

  test('--retained-only prints the retained messages and exits at the first live one', async (t) => {
    const at = target(t);
    if (!at) return;
    await runTool('mosquitto_pub', [...at, '-r', '-t', 'only/1', '-m', 'old']);
    const sub = startCulex('sub', [...at, '-t', 'only/#', '--retained-only', '-v', '-d']);
    await sub.waitForStdout(/only\/1 old/);
    await runTool('mosquitto_pub', [...at, '-t', 'only/2', '-m', 'live']);
    const result = await sub.result();
    assert.equal(result.code, 0);
    assert.equal(withoutTrace(result.stdout), 'only/1 old\n');
  });

  test('--remove-retained clears each retained message it prints; so does a retained null message (-r -n)', async (t) => {
    const at = target(t);
    if (!at) return;
    await runTool('mosquitto_pub', [...at, '-r', '-t', 'clear/a', '-m', 'one']);
    await runTool('mosquitto_pub', [...at, '-r', '-t', 'clear/b', '-m', 'two']);
    const removed = await runCulex('sub', [...at, '-t', 'clear/a', '--remove-retained', '-C', '1']);
    assert.deepEqual([removed.code, removed.stdout], [0, 'one\n']);
    assert.equal((await runCulex('pub', [...at, '-r', '-n', '-t', 'clear/b'])).code, 0);
    const after = await runTool('mosquitto_sub', [...at, '-t', 'clear/#', '-W', '1']);
    assert.deepEqual([after.code, after.stdout], [27, '']);
  });

  test('+ matches one level and # any number, including the parent level', async (t) => {
    const at = target(t);
    if (!at) return;
    const sub = startCulex('sub', [...at, '-t', 'wild/+/leaf', '-t', 'deep/#', '-C', '4', '-v', '-d']);
    await sub.waitForStdout(subscribed);
    for (const topic of ['wild/a/leaf', 'wild/a/b/leaf', 'wild/leaf', 'deep', 'deep/x/y', 'wild/b/leaf']) {
      await runTool('mosquitto_pub', [...at, '-t', topic, '-m', 'm']);
    }
    const result = await sub.result();
    assert.deepEqual(withoutTrace(result.stdout).split('\n').filter(Boolean).sort(), ['deep m', 'deep/x/y m', 'wild/a/leaf m', 'wild/b/leaf m']);
  });

  test('-W ends a quiet subscriber with exit 27 and "Timed out", exactly like mosquitto_sub', async (t) => {
    const at = target(t);
    if (!at) return;
    const [culex, mosquitto] = await Promise.all([
      runCulex('sub', [...at, '-t', 'silent', '-W', '2']),
      runTool('mosquitto_sub', [...at, '-t', 'silent', '-W', '2']),
    ]);
    assert.deepEqual([culex.code, culex.stdout, culex.stderr], [mosquitto.code, mosquitto.stdout, mosquitto.stderr]);
    assert.equal(culex.code, 27);
  });

  test('-E exits 0 as soon as the subscription is acknowledged', async (t) => {
    const at = target(t);
    if (!at) return;
    const result = await runCulex('sub', [...at, '-t', 'e/#', '-E']);
    assert.deepEqual([result.code, result.stdout], [0, '']);
  });

  test('-T leaves matching topics out and -U unsubscribes after subscribing', async (t) => {
    const at = target(t);
    if (!at) return;
    const filtered = startCulex('sub', [...at, '-t', 'filt/#', '-T', 'filt/secret/#', '-C', '1', '-v', '-d']);
    const unsubscribed = startCulex('sub', [...at, '-t', 'gone/#', '-U', 'gone/#', '-W', '2', '-d']);
    await filtered.waitForStdout(subscribed);
    await unsubscribed.waitForStdout(/received UNSUBACK/);
    await runTool('mosquitto_pub', [...at, '-t', 'filt/secret/x', '-m', 'hidden']);
    await runTool('mosquitto_pub', [...at, '-t', 'filt/open', '-m', 'shown']);
    await runTool('mosquitto_pub', [...at, '-t', 'gone/x', '-m', 'never']);
    assert.equal(withoutTrace((await filtered.result()).stdout), 'filt/open shown\n');
    const result = await unsubscribed.result();
    assert.deepEqual([result.code, withoutTrace(result.stdout)], [27, '']);
  });

  test('-l sends one message per stdin line: empty lines as null messages, \\r kept, last line without newline too', async (t) => {
    const at = target(t);
    if (!at) return;
    const sub = startCulex('sub', [...at, '-t', 'lines', '-C', '4', '-v', '-d']);
    await sub.waitForStdout(subscribed);
    const pub = await runCulex('pub', [...at, '-t', 'lines', '-l', '-q', '1'], { input: 'one\n\ntwo\r\nthree' });
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(withoutTrace((await sub.result()).stdout), 'lines one\nlines (null)\nlines two\r\nlines three\n');
  });

  test('-s sends all of stdin, -f a whole file, -n an empty message, --repeat N publishes N times', async (t) => {
    const at = target(t);
    if (!at) return;
    const file = join(scratch, 'payload.bin');
    writeFileSync(file, Buffer.from([0, 1, 2, 0xff, 0x0a]));
    const sub = startCulex('sub', [...at, '-t', 'src/#', '-C', '6', '-F', '%t %l %x', '-d']);
    await sub.waitForStdout(subscribed);
    assert.equal((await runCulex('pub', [...at, '-t', 'src/stdin', '-s'], { input: 'line 1\nline 2\n' })).code, 0);
    assert.equal((await runCulex('pub', [...at, '-t', 'src/file', '-f', file])).code, 0);
    assert.equal((await runCulex('pub', [...at, '-t', 'src/null', '-n'])).code, 0);
    assert.equal((await runCulex('pub', [...at, '-t', 'src/repeat', '-m', 'r', '--repeat', '3', '--repeat-delay', '0.01'])).code, 0);
    assert.deepEqual(withoutTrace((await sub.result()).stdout).split('\n').filter(Boolean), [
      'src/stdin 14 6c696e6520310a6c696e6520320a',
      'src/file 5 000102ff0a',
      'src/null 0 ',
      'src/repeat 1 72',
      'src/repeat 1 72',
      'src/repeat 1 72',
    ]);
  });

  test('a missing -f file is reported like mosquitto_pub and exits 1', async (t) => {
    const at = target(t);
    if (!at) return;
    const result = await runCulex('pub', [...at, '-t', 'x', '-f', '/nonexistent/file']);
    assert.deepEqual([result.code, result.stderr], [1, 'Error: Unable to open file "/nonexistent/file".\nError loading input file "/nonexistent/file".\n']);
  });

  test('default output is payload + newline (nothing for an empty payload); -v adds the topic ("(null)" when empty); -N drops newlines', async (t) => {
    const at = target(t);
    if (!at) return;
    const plain = startCulex('sub', [...at, '-t', 'out', '-C', '2', '-d']);
    const verbose = startCulex('sub', [...at, '-t', 'out', '-C', '2', '-v', '-d']);
    const noEol = startCulex('sub', [...at, '-t', 'out', '-C', '2', '-N', '-d']);
    await Promise.all([plain, verbose, noEol].map((p) => p.waitForStdout(subscribed)));
    await runTool('mosquitto_pub', [...at, '-t', 'out', '-n']);
    await runTool('mosquitto_pub', [...at, '-t', 'out', '-m', 'text']);
    assert.equal(withoutTrace((await plain.result()).stdout), 'text\n');
    assert.equal(withoutTrace((await verbose.result()).stdout), 'out (null)\nout text\n');
    assert.equal(withoutTrace((await noEol.result()).stdout), 'text');
  });

  test('-L mqtt://host:port/topic sets broker and topic for pub and sub', async (t) => {
    const at = target(t);
    if (!at || !broker) return;
    const url = `mqtt://127.0.0.1:${broker.port}/url/topic`;
    const sub = startCulex('sub', ['-L', url, '-C', '1', '-v', '-d']);
    await sub.waitForStdout(subscribed);
    assert.equal((await runCulex('pub', ['-L', url, '-m', 'via url'])).code, 0);
    assert.equal(withoutTrace((await sub.result()).stdout), 'url/topic via url\n');
  });
});
