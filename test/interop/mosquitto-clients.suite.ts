// Debian's mosquitto_pub and mosquitto_sub against Culex run as users run it, the built CLI in child
// processes, speaking MQTT 3.1.1 and 5.0. mosquitto-clients.test.ts runs these tests against a
// single `culex broker -p PORT` (and checks the broker process itself), cluster-mosquitto-clients.test.ts
// against a three-node cluster with publishers and subscribers on different nodes; target.settle()
// waits, on a cluster only, for subscriptions and retained messages to reach every node.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { skipUnless, type InteropTarget } from '../helpers/interop-target.js';
import { runTool, startTool, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';

const tools = ['mosquitto_pub', 'mosquitto_sub'];

const lines = (stdout: string): string[] => withoutTrace(stdout).split('\n').filter((line) => line !== '');

/** Defines the suite against `target`: its start and stop, then every test. */
export function mosquittoClientsSuite(target: InteropTarget): void {
  describe(`mosquitto_pub and mosquitto_sub against ${target.title}`, { skip: skipUnless(target) }, () => {
    before(() => target.start());
    after(() => target.stop());

    let counter = 0;
    const unique = (name: string): string => `mosquitto-clients/${name}-${process.pid}-${++counter}`;

    /** -h/-p of node `node` of the target, or undefined when the test was skipped for want of the tools. */
    const node = (t: TestContext, n: number): string[] | undefined => {
      if (!needTools(t, tools)) return undefined;
      return ['-h', '127.0.0.1', '-p', String(target.port(n))];
    };

    for (const version of ['mqttv311', 'mqttv5'] as const) {
      const v5 = version === 'mqttv5';
      const spec = (v311: string, v50: string): string => (v5 ? `${v50} v5` : `${v311} (3.1.1)`);

      describe(`mosquitto_pub and mosquitto_sub -V ${version}`, { concurrency: true }, () => {
        test(`QoS 0, 1 and 2 messages arrive at the QoS they were published with ${spec('[MQTT-3.8.4-6]', '[MQTT-3.8.4-8]')}`, async (t) => {
          const [at, subAt] = [node(t, 0), node(t, 1)];
          if (!at || !subAt) return;
          const base = unique('qos');
          const sub = startTool('mosquitto_sub', [...subAt, '-V', version, '-q', '2', '-t', `${base}/#`, '-C', '3', '-W', '10', '-F', '%t %q %p', '-d']);
          await sub.waitForStdout(subscribed);
          await target.settle();
          for (const qos of ['0', '1', '2']) {
            const pub = await runTool('mosquitto_pub', [...at, '-V', version, '-q', qos, '-t', `${base}/${qos}`, '-m', `at qos ${qos}`]);
            assert.equal(pub.code, 0, pub.stderr);
          }
          const result = await sub.result();
          assert.equal(result.code, 0, result.stderr);
          assert.deepEqual(lines(result.stdout), ['0', '1', '2'].map((qos) => `${base}/${qos} ${qos} at qos ${qos}`));
        });

        test(`-r retains, a new -r replaces, -n -r clears ${spec('[MQTT-3.3.1-5] [MQTT-3.3.1-8] [MQTT-3.3.1-10]', '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-9]')}`, async (t) => {
          const [at, subAt] = [node(t, 0), node(t, 1)];
          if (!at || !subAt) return;
          const topic = unique('retained');
          const pub = (...args: string[]) => runTool('mosquitto_pub', [...at, '-V', version, '-t', topic, ...args]);
          const subOnce = (wait: string) => runTool('mosquitto_sub', [...subAt, '-V', version, '-t', topic, '-C', '1', '-W', wait, '-F', '%r %p']);
          assert.equal((await pub('-r', '-q', '1', '-m', 'first')).code, 0);
          assert.equal((await pub('-r', '-m', 'second')).code, 0);
          await target.settle();
          const kept = await subOnce('5');
          assert.equal(kept.code, 0, kept.stderr);
          assert.equal(kept.stdout, '1 second\n', 'the latest retained message, retain flag set');
          assert.equal((await pub('-r', '-n')).code, 0);
          await target.settle();
          const cleared = await subOnce('1');
          assert.equal(cleared.code, 27, 'mosquitto_sub -W timed out: nothing retained any more');
          assert.equal(cleared.stdout, '');
        });

        test('+ and # filters select the topics they match', async (t) => {
          const [at, subAt] = [node(t, 0), node(t, 2)];
          if (!at || !subAt) return;
          const base = unique('wild');
          const sub = startTool('mosquitto_sub', [...subAt, '-V', version, '-t', `${base}/+/temp`, '-t', `${base}/room/#`, '-C', '3', '-W', '10', '-v', '-d']);
          await sub.waitForStdout(subscribed);
          await target.settle();
          for (const topic of ['hall/temp', 'hall/x/temp', 'room', 'room/a/b']) {
            assert.equal((await runTool('mosquitto_pub', [...at, '-V', version, '-q', '1', '-t', `${base}/${topic}`, '-m', topic])).code, 0);
          }
          const result = await sub.result();
          assert.equal(result.code, 0, result.stderr);
          assert.deepEqual(lines(result.stdout), ['hall/temp', 'room', 'room/a/b'].map((topic) => `${base}/${topic} ${topic}`));
        });

        test(`-c -i keeps the session: QoS 1 messages published while away arrive on return ${spec('[MQTT-3.1.2-4] [MQTT-3.1.2-5]', '[MQTT-3.1.2-5] [MQTT-3.1.2-23]')}`, async (t) => {
          const [at, subAt] = [node(t, 0), node(t, 1)];
          if (!at || !subAt) return;
          const topic = unique('session');
          const id = `mosq-${version}-${process.pid}-${counter}`;
          // the session stays on the node it was made on (the cluster target keeps sessions in memory)
          const session = [...subAt, '-V', version, '-c', '-i', id, '-q', '1', '-t', topic, ...(v5 ? ['-x', '300'] : [])];
          const first = await runTool('mosquitto_sub', [...session, '-E']); // subscribe, then leave
          assert.equal(first.code, 0, first.stderr);
          await target.settle();
          for (const n of ['1', '2']) assert.equal((await runTool('mosquitto_pub', [...at, '-V', version, '-q', '1', '-t', topic, '-m', `away ${n}`])).code, 0);
          const back = await runTool('mosquitto_sub', [...session, '-C', '2', '-W', '5']);
          assert.equal(back.code, 0, back.stderr);
          assert.deepEqual(lines(back.stdout), ['away 1', 'away 2']);
        });

        test(`a subscriber killed with SIGKILL has its will published ${spec('[MQTT-3.1.2-8]', '[MQTT-3.1.2-8]')}`, async (t) => {
          const [at, subAt] = [node(t, 0), node(t, 1)];
          if (!at || !subAt) return;
          const willTopic = unique('will');
          const watcher = startTool('mosquitto_sub', [...subAt, '-V', version, '-t', willTopic, '-C', '1', '-W', '10', '-d']);
          await watcher.waitForStdout(subscribed);
          await target.settle();
          const doomed = startTool('mosquitto_sub', [...at, '-V', version, '-t', unique('doomed'), '--will-topic', willTopic, '--will-payload', 'gone', '--will-qos', '1', '-d']);
          await doomed.waitForStdout(subscribed);
          doomed.kill('SIGKILL');
          const result = await watcher.result();
          assert.equal(result.code, 0, result.stderr);
          assert.deepEqual(lines(result.stdout), ['gone']);
          assert.equal((await doomed.result()).signal, 'SIGKILL');
        });

        test(`a client without -i connects with an empty client id and is given one ${spec('[MQTT-3.1.3-6]', '[MQTT-3.1.3-6] [MQTT-3.2.2-16]')}`, async (t) => {
          const at = node(t, 2);
          if (!at) return;
          const pub = await runTool('mosquitto_pub', [...at, '-V', version, '-t', unique('anonymous'), '-m', 'x', '-d']);
          assert.equal(pub.code, 0, pub.stderr);
          assert.match(pub.stdout, /Client \(null\) sending CONNECT/, 'mosquitto_pub sent no client id');
          if (v5) assert.match(pub.stdout, /Client auto-\S+ received CONNACK \(0\)/, 'the Assigned Client Identifier is used');
          else assert.match(pub.stdout, /received CONNACK \(0\)/);
          assert.match(target.log(2) ?? '', /New client connected from 127\.0\.0\.1:\d+ as auto-/);
        });
      });
    }

    test('[MQTT-3.3.2-17] -D PUBLISH user-property reaches mosquitto_sub -V mqttv5 -F %P', async (t) => {
      const [at, subAt] = [node(t, 0), node(t, 1)];
      if (!at || !subAt) return;
      const topic = unique('user-property');
      const sub = startTool('mosquitto_sub', [...subAt, '-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '10', '-F', '%P', '-d']);
      await sub.waitForStdout(subscribed);
      await target.settle();
      const pub = await runTool('mosquitto_pub', [...at, '-V', 'mqttv5', '-t', topic, '-m', 'x', '-D', 'PUBLISH', 'user-property', 'k', 'v', '-D', 'PUBLISH', 'user-property', 'k2', 'v 2']);
      assert.equal(pub.code, 0, pub.stderr);
      const result = await sub.result();
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stdout), ['k:v k2:v 2']);
    });
  });
}
