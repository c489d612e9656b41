// MQTT v5 properties (-D), persistent sessions (-c -i), wills and culex rr against Mosquitto,
// read back with Mosquitto's own mosquitto_sub -F where the output is deterministic.
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

describe('MQTT v5, sessions, wills and request/response', { concurrency: 4 }, () => {
  test('-V mqttv5 -D publish properties reach a v5 subscriber as sent (read by mosquitto_sub -F)', async (t) => {
    const at = target(t);
    if (!at) return;
    const sub = startTool('mosquitto_sub', [...at, '-V', 'mqttv5', '-t', 'props', '-C', '1', '-d', '-F', '%P|%C|%R|%D|%E|%F|%p']);
    await sub.waitForStdout(subscribed);
    const pub = await runCulex('pub', [
      ...at, '-V', 'mqttv5', '-t', 'props', '-m', '{"on":true}', '-q', '1',
      '-D', 'publish', 'user-property', 'site', 'north',
      '-D', 'PUBLISH', 'user-property', 'rack', '7',
      '-D', 'publish', 'content-type', 'application/json',
      '-D', 'publish', 'response-topic', 'props/reply',
      '-D', 'publish', 'correlation-data', 'req-42',
      '-D', 'publish', 'message-expiry-interval', '300',
      '-D', 'publish', 'payload-format-indicator', '1',
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const line = withoutTrace((await sub.result()).stdout).trim();
    const [user, type, reply, correlation, expiry, format, payload] = line.split('|');
    assert.deepEqual([user, type, reply, correlation, format, payload], ['site:north rack:7', 'application/json', 'props/reply', 'req-42', '1', '{"on":true}']);
    assert.ok(Number(expiry) > 290 && Number(expiry) <= 300, `expiry ${expiry}`);
  });

  test('a -D switch alone selects MQTT v5, and -D connect/subscribe properties are accepted by the broker', async (t) => {
    const at = target(t);
    if (!at) return;
    const sub = startCulex('sub', [
      ...at, '-t', 'v5auto', '-C', '1', '-d', '-F', '%S %P %p',
      '-D', 'connect', 'user-property', 'who', 'test', '-D', 'connect', 'receive-maximum', '5',
      '-D', 'subscribe', 'subscription-identifier', '9',
    ]);
    await sub.waitForStdout(subscribed);
    assert.match(sub.stdout, /Client auto-[0-9A-F-]+ received CONNACK \(0\)/, 'a broker-assigned id shows v5 was used');
    await runTool('mosquitto_pub', [...at, '-V', '5', '-t', 'v5auto', '-m', 'x', '-D', 'publish', 'user-property', 'k', 'v']);
    assert.equal(withoutTrace((await sub.result()).stdout), '9 k:v x\n');
  });

  test('-c -i keeps the session: QoS 1 messages sent while the subscriber is away arrive when it returns', async (t) => {
    const at = target(t);
    if (!at) return;
    for (const version of ['311', '5']) {
      const id = `persistent-${version}`;
      const session = [...at, '-V', version, '-c', '-i', id, '-q', '1', '-t', `away/${version}`];
      const first = await runCulex('sub', [...session, '-E']);
      assert.equal(first.code, 0, first.stderr);
      for (const n of ['1', '2']) await runCulex('pub', [...at, '-q', '1', '-t', `away/${version}`, '-m', `queued ${n}`]);
      const back = await runCulex('sub', [...session, '-C', '2']);
      assert.deepEqual([back.code, back.stdout], [0, 'queued 1\nqueued 2\n'], `MQTT ${version}`);
    }
  });

  test('a client killed abnormally has its will published (--will-topic/-payload/-qos/-retain)', async (t) => {
    const at = target(t);
    if (!at) return;
    const watcher = startTool('mosquitto_sub', [...at, '-q', '1', '-t', 'will/#', '-C', '1', '-d', '-F', '%t %q %p']);
    await watcher.waitForStdout(subscribed);
    const doomed = startCulex('sub', [
      ...at, '-t', 'will/ignored', '-d', '--will-topic', 'will/client', '--will-payload', 'gone', '--will-qos', '1', '--will-retain',
    ]);
    await doomed.waitForStdout(subscribed);
    doomed.kill('SIGKILL');
    await doomed.result();
    assert.equal(withoutTrace((await watcher.result()).stdout), 'will/client 1 gone\n');
    const retained = await runTool('mosquitto_sub', [...at, '-t', 'will/client', '-C', '1', '-F', '%r %p']);
    assert.equal(retained.stdout, '1 gone\n');
  });

  test('culex rr publishes the request with a Response Topic and prints the first response', async (t) => {
    const at = target(t);
    if (!at) return;
    const responder = startTool('mosquitto_sub', [...at, '-V', '5', '-t', 'rr/request', '-C', '1', '-d', '-F', '%R %p']);
    await responder.waitForStdout(subscribed);
    const rr = startCulex('rr', [...at, '-t', 'rr/request', '-e', 'rr/response', '-m', 'ping', '-W', '10', '-d']);
    await rr.waitForStdout(/sending PUBLISH/);
    assert.equal(withoutTrace((await responder.result()).stdout), 'rr/response ping\n');
    await runTool('mosquitto_pub', [...at, '-V', '5', '-t', 'rr/response', '-m', 'pong']);
    const result = await rr.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(withoutTrace(result.stdout), 'pong\n');
  });

  test('culex rr with nobody answering ends after -W with exit 27, like mosquitto_rr', async (t) => {
    const at = target(t);
    if (!at || !needTools(t, ['mosquitto_rr'])) return;
    const args = [...at, '-t', 'rr/void', '-e', 'rr/void/reply', '-m', 'hello?', '-W', '2'];
    const [culex, mosquitto] = await Promise.all([runCulex('rr', args), runTool('mosquitto_rr', args)]);
    assert.deepEqual([culex.code, culex.stdout, culex.stderr], [mosquitto.code, mosquitto.stdout, mosquitto.stderr]);
    assert.equal(culex.code, 27);
  });
});
