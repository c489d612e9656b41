// Debian's mosquitto_pub and mosquitto_sub against the Culex broker run as users run it, the built
// CLI in a child process (`node dist/cli/culex.js broker -p PORT`), speaking MQTT 3.1.1 and 5.0;
// then the broker process itself: its loopback listeners and its exit on SIGTERM.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startCulexProcess, type CulexProcess } from '../helpers/culex-process.js';
import { runTool, startTool, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';

const tools = ['mosquitto_pub', 'mosquitto_sub'];
let broker: CulexProcess;

before(async () => {
  broker = await startCulexProcess();
});
after(async () => {
  await broker?.stop('SIGTERM');
});

let counter = 0;
const unique = (name: string): string => `mosquitto-clients/${name}-${process.pid}-${++counter}`;

/** -h/-p of the shared broker, or undefined when the test was skipped for want of the tools. */
function target(t: TestContext): string[] | undefined {
  if (!needTools(t, tools)) return undefined;
  return ['-h', '127.0.0.1', '-p', String(broker.port)];
}

const lines = (stdout: string): string[] => withoutTrace(stdout).split('\n').filter((line) => line !== '');

for (const version of ['mqttv311', 'mqttv5'] as const) {
  const v5 = version === 'mqttv5';
  const spec = (v311: string, v50: string): string => (v5 ? `${v50} v5` : `${v311} (3.1.1)`);

  describe(`mosquitto_pub and mosquitto_sub -V ${version}`, { concurrency: true }, () => {
    test(`QoS 0, 1 and 2 messages arrive at the QoS they were published with ${spec('[MQTT-3.8.4-6]', '[MQTT-3.8.4-8]')}`, async (t) => {
      const at = target(t);
      if (!at) return;
      const base = unique('qos');
      const sub = startTool('mosquitto_sub', [...at, '-V', version, '-q', '2', '-t', `${base}/#`, '-C', '3', '-W', '10', '-F', '%t %q %p', '-d']);
      await sub.waitForStdout(subscribed);
      for (const qos of ['0', '1', '2']) {
        const pub = await runTool('mosquitto_pub', [...at, '-V', version, '-q', qos, '-t', `${base}/${qos}`, '-m', `at qos ${qos}`]);
        assert.equal(pub.code, 0, pub.stderr);
      }
      const result = await sub.result();
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stdout), ['0', '1', '2'].map((qos) => `${base}/${qos} ${qos} at qos ${qos}`));
    });

    test(`-r retains, a new -r replaces, -n -r clears ${spec('[MQTT-3.3.1-5] [MQTT-3.3.1-8] [MQTT-3.3.1-10]', '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-9]')}`, async (t) => {
      const at = target(t);
      if (!at) return;
      const topic = unique('retained');
      const pub = (...args: string[]) => runTool('mosquitto_pub', [...at, '-V', version, '-t', topic, ...args]);
      const subOnce = (wait: string) => runTool('mosquitto_sub', [...at, '-V', version, '-t', topic, '-C', '1', '-W', wait, '-F', '%r %p']);
      assert.equal((await pub('-r', '-q', '1', '-m', 'first')).code, 0);
      assert.equal((await pub('-r', '-m', 'second')).code, 0);
      const kept = await subOnce('5');
      assert.equal(kept.code, 0, kept.stderr);
      assert.equal(kept.stdout, '1 second\n', 'the latest retained message, retain flag set');
      assert.equal((await pub('-r', '-n')).code, 0);
      const cleared = await subOnce('1');
      assert.equal(cleared.code, 27, 'mosquitto_sub -W timed out: nothing retained any more');
      assert.equal(cleared.stdout, '');
    });

    test('+ and # filters select the topics they match', async (t) => {
      const at = target(t);
      if (!at) return;
      const base = unique('wild');
      const sub = startTool('mosquitto_sub', [...at, '-V', version, '-t', `${base}/+/temp`, '-t', `${base}/room/#`, '-C', '3', '-W', '10', '-v', '-d']);
      await sub.waitForStdout(subscribed);
      for (const topic of ['hall/temp', 'hall/x/temp', 'room', 'room/a/b']) {
        assert.equal((await runTool('mosquitto_pub', [...at, '-V', version, '-q', '1', '-t', `${base}/${topic}`, '-m', topic])).code, 0);
      }
      const result = await sub.result();
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stdout), ['hall/temp', 'room', 'room/a/b'].map((topic) => `${base}/${topic} ${topic}`));
    });

    test(`-c -i keeps the session: QoS 1 messages published while away arrive on return ${spec('[MQTT-3.1.2-4] [MQTT-3.1.2-5]', '[MQTT-3.1.2-5] [MQTT-3.1.2-23]')}`, async (t) => {
      const at = target(t);
      if (!at) return;
      const topic = unique('session');
      const id = `mosq-${version}-${process.pid}-${counter}`;
      const session = [...at, '-V', version, '-c', '-i', id, '-q', '1', '-t', topic, ...(v5 ? ['-x', '300'] : [])];
      const first = await runTool('mosquitto_sub', [...session, '-E']); // subscribe, then leave
      assert.equal(first.code, 0, first.stderr);
      for (const n of ['1', '2']) assert.equal((await runTool('mosquitto_pub', [...at, '-V', version, '-q', '1', '-t', topic, '-m', `away ${n}`])).code, 0);
      const back = await runTool('mosquitto_sub', [...session, '-C', '2', '-W', '5']);
      assert.equal(back.code, 0, back.stderr);
      assert.deepEqual(lines(back.stdout), ['away 1', 'away 2']);
    });

    test(`a subscriber killed with SIGKILL has its will published ${spec('[MQTT-3.1.2-8]', '[MQTT-3.1.2-8]')}`, async (t) => {
      const at = target(t);
      if (!at) return;
      const willTopic = unique('will');
      const watcher = startTool('mosquitto_sub', [...at, '-V', version, '-t', willTopic, '-C', '1', '-W', '10', '-d']);
      await watcher.waitForStdout(subscribed);
      const doomed = startTool('mosquitto_sub', [...at, '-V', version, '-t', unique('doomed'), '--will-topic', willTopic, '--will-payload', 'gone', '--will-qos', '1', '-d']);
      await doomed.waitForStdout(subscribed);
      doomed.kill('SIGKILL');
      const result = await watcher.result();
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stdout), ['gone']);
      assert.equal((await doomed.result()).signal, 'SIGKILL');
    });

    test(`a client without -i connects with an empty client id and is given one ${spec('[MQTT-3.1.3-6]', '[MQTT-3.1.3-6] [MQTT-3.2.2-16]')}`, async (t) => {
      const at = target(t);
      if (!at) return;
      const pub = await runTool('mosquitto_pub', [...at, '-V', version, '-t', unique('anonymous'), '-m', 'x', '-d']);
      assert.equal(pub.code, 0, pub.stderr);
      assert.match(pub.stdout, /Client \(null\) sending CONNECT/, 'mosquitto_pub sent no client id');
      if (v5) assert.match(pub.stdout, /Client auto-\S+ received CONNACK \(0\)/, 'the Assigned Client Identifier is used');
      else assert.match(pub.stdout, /received CONNACK \(0\)/);
      assert.match(broker.log(), /New client connected from 127\.0\.0\.1:\d+ as auto-/);
    });
  });
}

test('[MQTT-3.3.2-17] -D PUBLISH user-property reaches mosquitto_sub -V mqttv5 -F %P', async (t) => {
  const at = target(t);
  if (!at) return;
  const topic = unique('user-property');
  const sub = startTool('mosquitto_sub', [...at, '-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '10', '-F', '%P', '-d']);
  await sub.waitForStdout(subscribed);
  const pub = await runTool('mosquitto_pub', [...at, '-V', 'mqttv5', '-t', topic, '-m', 'x', '-D', 'PUBLISH', 'user-property', 'k', 'v', '-D', 'PUBLISH', 'user-property', 'k2', 'v 2']);
  assert.equal(pub.code, 0, pub.stderr);
  const result = await sub.result();
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(lines(result.stdout), ['k:v k2:v 2']);
});

describe('the culex broker process', () => {
  test('listens on 127.0.0.1 and [::1] on its port while it runs (ss -ltn, or netstat -ltn)', async (t) => {
    const tool = ['ss', 'netstat'].find(requireTool);
    if (tool === undefined) {
      const reason = 'neither ss nor netstat is installed: apt-get install iproute2 net-tools';
      if (process.env.CI === 'true') throw new Error(`${reason} (required on CI)`);
      t.skip(reason);
      return;
    }
    const listing = await runTool(tool, ['-ltn']);
    assert.equal(listing.code, 0, listing.stderr);
    // The fourth column is the local address in both: ss "LISTEN 0 511 127.0.0.1:P", netstat "tcp 0 0 127.0.0.1:P".
    const local = listing.stdout.split('\n').map((line) => line.trim().split(/\s+/)[3] ?? '');
    const port = String(broker.port);
    assert.ok(local.includes(`127.0.0.1:${port}`), `127.0.0.1:${port} in ${tool} -ltn:\n${listing.stdout}`);
    assert.ok(local.includes(`[::1]:${port}`) || local.includes(`::1:${port}`), `[::1]:${port} in ${tool} -ltn:\n${listing.stdout}`);
    assert.ok(!local.includes(`0.0.0.0:${port}`) && !local.includes(`*:${port}`), 'loopback only');
  });

  test('SIGTERM stops the broker with exit code 0 within 2 s, clients connected, a hung one among them', async (t) => {
    const own = await startCulexProcess();
    const clients = requireTool('mosquitto_sub')
      ? ['mqttv311', 'mqttv5', 'mqttv311'].map((version) => startTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(own.port), '-V', version, '-t', 'sigterm/#', '-d']))
      : [];
    try {
      for (const client of clients) await client.waitForStdout(subscribed);
      clients[2]?.kill('SIGSTOP'); // hung: it will never answer the broker's FIN
      if (clients.length === 0) t.diagnostic('mosquitto_sub not installed: stopping a broker without clients');
      const started = Date.now();
      const exit = await own.stop('SIGTERM', 4000);
      const took = Date.now() - started;
      t.diagnostic(`exited ${exit.code ?? exit.signal} after ${took} ms`);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(took < 2000, `exited after ${took} ms`);
      assert.match(own.log(), /terminating \(SIGTERM\)/);
    } finally {
      await own.stop('SIGKILL');
      for (const client of clients) client.kill('SIGKILL');
      await Promise.all(clients.map((client) => client.result()));
    }
  });
});
