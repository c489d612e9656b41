// Python paho-mqtt from Debian (python3-paho-mqtt, 1.6 on Debian 12) against Culex, speaking MQTT
// 3.1.1 and 5.0. The Python side is fixtures/paho_roundtrip.py, run by /usr/bin/python3 (Debian's
// interpreter: the python3 first on PATH may be another one, without paho); it prints JSON that the
// tests below check, one behaviour each. paho.test.ts runs them against a single broker,
// cluster-paho.test.ts against one node of a three-node cluster.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { skipUnless, type InteropTarget } from '../helpers/interop-target.js';
import { RunningProcess } from '../helpers/processes.js';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fixtures/paho_roundtrip.py', import.meta.url));

interface PahoMessage {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  user_properties: [string, string][] | null;
}

interface PahoRun {
  paho: string;
  version: number;
  errors: string[];
  connack?: { code: number; session_present: boolean };
  granted?: number[][];
  messages?: PahoMessage[];
}

/** Why paho cannot run here, or undefined when it can. */
function pahoMissing(): string | undefined {
  const probe = spawnSync(python, ['-c', 'import paho.mqtt.client'], { timeout: 10_000, encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const why = probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop();
  return `${python} cannot import paho.mqtt.client (${why}): apt-get install python3-paho-mqtt`;
}

const missing = pahoMissing();

/** Defines the suite against `target`: its start and stop, then every test. */
export function pahoSuite(target: InteropTarget): void {
  const runs = new Map<4 | 5, Promise<PahoRun>>();

  describe(`paho-mqtt against ${target.title}`, { skip: skipUnless(target) }, () => {
    before(async () => {
      await target.start();
      if (missing !== undefined) return;
      for (const version of [4, 5] as const) {
        // one client that publishes to itself: on a cluster, all on node 1 (the paho script is one client)
        const child = new RunningProcess(python, [script, String(target.port(1)), String(version), `paho/v${version}-${process.pid}`], { timeoutMs: 30_000 });
        runs.set(
          version,
          child.result().then((result) => {
            if (result.code !== 0) throw new Error(`paho script exited ${result.code ?? result.signal}: ${result.stderr}`);
            return JSON.parse(result.stdout) as PahoRun;
          }),
        );
      }
      await Promise.allSettled(runs.values());
    });
    after(() => target.stop());

    /** The script's report for a version, or undefined when the test was skipped (failed on CI). */
    const report = async (t: TestContext, version: 4 | 5): Promise<PahoRun | undefined> => {
      if (missing !== undefined) {
        if (process.env.CI === 'true') throw new Error(`${missing} (required on CI)`);
        t.skip(missing);
        return undefined;
      }
      const run = await runs.get(version)!;
      assert.deepEqual(run.errors, [], 'the paho script reported no timeouts');
      return run;
    };

    for (const version of [4, 5] as const) {
      const name = version === 4 ? 'MQTT 3.1.1 (MQTTv311)' : 'MQTT 5.0 (MQTTv5)';
      const spec = (v311: string, v5: string): string => (version === 4 ? `${v311} (3.1.1)` : `${v5} v5`);
      const prefix = `paho/v${version}-${process.pid}`;

      describe(`paho-mqtt speaking ${name}`, () => {
        test(`CONNECT is accepted and the subscription granted QoS 2 ${spec('[MQTT-3.2.2-1] [MQTT-3.8.4-5]', '[MQTT-3.2.2-2] [MQTT-3.8.4-7]')}`, async (t) => {
          const run = await report(t, version);
          if (!run) return;
          t.diagnostic(`paho-mqtt ${run.paho}`);
          assert.deepEqual(run.connack, { code: 0, session_present: false });
          assert.deepEqual(run.granted?.[0], [2]);
        });

        test(`its own QoS 0, 1 and 2 messages come back once each at their QoS ${spec('[MQTT-3.3.4-1] [MQTT-3.8.4-6]', '[MQTT-3.3.4-1] [MQTT-3.8.4-8]')}`, async (t) => {
          const run = await report(t, version);
          if (!run) return;
          const own = (run.messages ?? []).filter((m) => m.topic.startsWith(`${prefix}/`));
          assert.deepEqual(
            own.map((m) => [m.topic, m.payload, m.qos, m.retain]),
            [0, 1, 2].map((qos) => [`${prefix}/q${qos}`, `qos ${qos}`, qos, false]),
          );
        });

        test(`a retained message reaches a later subscription with the retain flag; an empty one clears it ${spec('[MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-10]', '[MQTT-3.3.1-6] [MQTT-3.3.1-9]')}`, async (t) => {
          const run = await report(t, version);
          if (!run) return;
          const retained = (run.messages ?? []).filter((m) => m.topic === `${prefix}-retained/r`);
          assert.deepEqual(
            retained.map((m) => [m.payload, m.qos, m.retain]),
            [
              ['kept', 1, true],
              ['', 1, false],
            ],
            'the retained message on subscribe, then the clearing message as normal; nothing for the last subscription',
          );
        });

        if (version === 5) {
          test('[MQTT-3.3.2-17] [MQTT-3.3.2-18] user properties come back unaltered and in order', async (t) => {
            const run = await report(t, version);
            if (!run) return;
            const own = (run.messages ?? []).filter((m) => m.topic.startsWith(`${prefix}/`));
            assert.deepEqual(
              own.map((m) => m.user_properties),
              [0, 1, 2].map((qos) => [
                ['qos', String(qos)],
                ['from', 'paho'],
              ]),
            );
          });
        }
      });
    }
  });
}
