// Cross checks with Mosquitto's clients: culex pub → mosquitto_sub, mosquitto_pub → culex sub, and
// culex sub printing byte for byte what mosquitto_sub prints for the same messages and -F format.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.js';
import { runCulex, runTool, startCulex, startTool, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';

const tools = ['mosquitto', 'mosquitto_pub', 'mosquitto_sub'];
let broker: MosquittoBroker | undefined;

before(async () => {
  if (tools.every(requireTool)) broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
});

function target(t: TestContext): string[] | undefined {
  if (!needTools(t, tools) || !broker) return undefined;
  return ['-h', '127.0.0.1', '-p', String(broker.port)];
}

/** Receive times differ between two subscribers; everything else must not. */
function withoutTimes(text: string): string {
  return text.replace(/"tst":\t?"[^"]*"/g, '"tst":"T"');
}

/**
 * Runs culex sub and mosquitto_sub with the same arguments, publishes with mosquitto_pub, and
 * returns both outputs (trace lines removed).
 */
async function bothSubscribers(at: string[], subArgs: string[], publishes: string[][], input?: Buffer): Promise<[string, string]> {
  const count = String(publishes.length);
  const culex = startCulex('sub', [...at, ...subArgs, '-C', count, '-d']);
  const mosquitto = startTool('mosquitto_sub', [...at, ...subArgs, '-C', count, '-d']);
  await Promise.all([culex.waitForStdout(subscribed), mosquitto.waitForStdout(subscribed)]);
  for (const args of publishes) {
    const pub = await runTool('mosquitto_pub', [...at, ...args], input && args.includes('-s') ? { input } : undefined);
    assert.equal(pub.code, 0, pub.stderr);
  }
  const [c, m] = await Promise.all([culex.result(), mosquitto.result()]);
  assert.equal(c.code, m.code);
  assert.equal(c.stderr, m.stderr);
  return [withoutTimes(withoutTrace(c.stdout)), withoutTimes(withoutTrace(m.stdout))];
}

describe('cross checks with mosquitto_pub and mosquitto_sub', { concurrency: 4 }, () => {
  test('culex pub → mosquitto_sub: a binary, retained QoS 2 payload arrives intact', async (t) => {
    const at = target(t);
    if (!at) return;
    const sub = startTool('mosquitto_sub', [...at, '-q', '2', '-t', 'x/bin', '-C', '1', '-d', '-F', '%q %r %x']);
    await sub.waitForStdout(subscribed);
    const payload = Buffer.from([0x00, 0x7f, 0x80, 0xff, 0x0a, 0x0d]);
    const pub = await runCulex('pub', [...at, '-q', '2', '-r', '-t', 'x/bin', '-s'], { input: payload });
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(withoutTrace((await sub.result()).stdout), `2 0 ${payload.toString('hex')}\n`);
    const later = await runTool('mosquitto_sub', [...at, '-t', 'x/bin', '-C', '1', '-F', '%r %x']);
    assert.equal(later.stdout, `1 ${payload.toString('hex')}\n`);
  });

  test('mosquitto_pub → culex sub: default and -v output match mosquitto_sub, empty payloads included', async (t) => {
    const at = target(t);
    if (!at) return;
    const publishes = [['-t', 'x/plain/a', '-m', 'hello world'], ['-t', 'x/plain/b', '-n'], ['-t', 'x/plain/c', '-m', 'ünïcödé', '-q', '1']];
    const [plainCulex, plainMosquitto] = await bothSubscribers(at, ['-t', 'x/plain/#'], publishes);
    assert.equal(plainCulex, plainMosquitto);
    assert.equal(plainCulex, 'hello world\nünïcödé\n');
    const [verboseCulex, verboseMosquitto] = await bothSubscribers(at, ['-t', 'x/plain/#', '-v'], publishes);
    assert.equal(verboseCulex, verboseMosquitto);
    assert.equal(verboseCulex, 'x/plain/a hello world\nx/plain/b (null)\nx/plain/c ünïcödé\n');
  });

  test('-F with widths, flags, hex, escapes and @@ prints what mosquitto_sub prints', async (t) => {
    const at = target(t);
    if (!at) return;
    const format = '[%5t][%-8t][%.3t][%05l][%-4l][%10x][%-10X][%3p][%05p][%q][%r][%m][%5m][%05A][%5C]\\t@@\\\\|%%';
    const publishes = [
      ['-t', 'x/fmt/one', '-m', 'a longer payload than ten', '-q', '1'],
      ['-t', 'x/fmt/two', '-n'],
      ['-t', 'x/fmt/three', '-m', 'abc', '-q', '2', '-r'],
    ];
    const [culex, mosquitto] = await bothSubscribers(at, ['-t', 'x/fmt/#', '-q', '2', '-F', format], publishes);
    assert.equal(culex, mosquitto);
  });

  test('-F %j and %J (and --pretty) print the same JSON as mosquitto_sub, v5 properties included', async (t) => {
    const at = target(t);
    if (!at) return;
    const json = '{ "n": [1, 2.5, -3e5, 1e300, 0.1, -0, 12345678901, 1.5e-7], "s": "a\\"b\\u0001", "o": {"z": {}, "2": []}, "t": true, "f": null }';
    const publishes = [
      ['-V', '5', '-t', 'x/json/a', '-m', json, '-q', '1', '-D', 'publish', 'user-property', 'k', 'v', '-D', 'publish', 'user-property', 'k', 'w',
        '-D', 'publish', 'content-type', 'application/json', '-D', 'publish', 'correlation-data', 'c1', '-D', 'publish', 'response-topic', 'x/r'],
      ['-t', 'x/json/b', '-m', 'not json: "quoted" \\ back'],
      ['-t', 'x/json/c', '-n'],
    ];
    for (const extra of [[], ['--pretty']]) {
      const [culex, mosquitto] = await bothSubscribers(at, ['-V', '5', '-q', '1', '-t', 'x/json/#', '-F', '%j|%J', ...extra], publishes);
      assert.equal(culex, mosquitto, `with ${extra.join(' ') || 'no extra flags'}`);
    }
  });

  test('non-printable payload bytes go through %p and %j as mosquitto_sub passes them', async (t) => {
    const at = target(t);
    if (!at) return;
    const input = Buffer.from([0x61, 0x01, 0x09, 0xc3, 0xa9, 0xff, 0x62]);
    const [culex, mosquitto] = await bothSubscribers(at, ['-t', 'x/raw', '-F', '%p|%j|%l'], [['-t', 'x/raw', '-s']], input);
    assert.equal(culex, mosquitto);
  });
});
