// A lazy bridge (start_type lazy, threshold, idle_timeout) run by Debian's Mosquitto and by Culex as
// the local broker, toward Debian's Mosquitto. Both leave the remote alone at start, drop QoS 0
// messages while the bridge is down ("Outgoing messages are being dropped" in Mosquitto's log),
// connect once `threshold` QoS 1/2 messages wait, and deliver them in order. Culex then closes the
// idle connection after idle_timeout without DISCONNECT (the remote shows the "0" will) and starts
// again at the next threshold. Mosquitto 2.0.11's idle check adds its keepalive interval, so with the
// default keepalive it stays connected far longer than idle_timeout; its idle step is not compared.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { eventually, startCulexConf, startMosquittoConf, type RunningBroker } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  /** Notification values at the remote before anything was published (none: a lazy bridge waits). */
  readonly atStart: string[];
  /** What reached the remote while fewer than `threshold` QoS 1/2 messages waited. */
  readonly belowThreshold: string[];
  /** Payloads the remote's subscriber got once the threshold was reached, in order. */
  readonly delivered: string[];
  readonly remoteStates: string[];
}

interface Run extends Outcome {
  /** Continues a Culex run: idle, then the next threshold. */
  readonly idleCycle: (() => Promise<{ states: string[]; delivered: string[] }>) | undefined;
  readonly close: () => Promise<void>;
}

async function lazyRun(local: 'mosquitto' | 'culex'): Promise<Run> {
  const centralPort = await findFreePort();
  const central = await startMosquittoConf(centralPort, []);
  const edgePort = await findFreePort();
  const section = ['connection lazy', `address 127.0.0.1:${centralPort}`, 'remote_clientid lazy-edge', 'start_type lazy', 'threshold 3', 'idle_timeout 2', 'topic meter/# out 1'];
  let edge: RunningBroker | undefined;
  const peers: Peer[] = [];
  const close = async (): Promise<void> => {
    await endPeers(...peers);
    await edge?.stop();
    await central.stop();
  };
  try {
    const consumer = await connectPeer(url(centralPort), { clientId: 'meter-consumer' });
    peers.push(consumer);
    const remoteStates: string[] = [];
    const delivered: string[] = [];
    consumer.client.on('message', (topic, payload) => {
      if (topic.startsWith('$SYS/broker/connection/')) remoteStates.push(payload.toString());
      else delivered.push(payload.toString());
    });
    await consumer.client.subscribeAsync({ 'meter/#': { qos: 1 }, '$SYS/broker/connection/#': { qos: 1 } });
    const until = async (check: () => boolean, what: string): Promise<void> => {
      try {
        await eventually(check, 20_000, `${local}: ${what}`);
      } catch (error) {
        throw new Error(`${String(error)}: remote states ${remoteStates.join()}, delivered ${delivered.join()}\nedge log:\n${edge?.log()}`);
      }
    };

    edge = local === 'mosquitto' ? await startMosquittoConf(edgePort, section) : await startCulexConf(edgePort, [`listener ${edgePort} 127.0.0.1`, 'allow_anonymous true', ...section].join('\n'));
    await pause(2500); // longer than idle_timeout: a bridge that connected at start would show "1"
    const atStart = [...remoteStates];

    const publisher = await connectPeer(url(edgePort), { clientId: 'meter-publisher' });
    peers.push(publisher);
    await publisher.client.publishAsync('meter/a', 'qos0-dropped', { qos: 0 });
    await publisher.client.publishAsync('meter/a', 'qos1-first', { qos: 1 });
    await publisher.client.publishAsync('meter/a', 'qos1-second', { qos: 1 });
    await pause(2500); // two QoS 1 messages wait, one fewer than the threshold: the bridge stays down
    const belowThreshold = [...delivered, ...remoteStates];
    await publisher.client.publishAsync('meter/a', 'qos1-third', { qos: 1 });
    await until(() => delivered.length >= 3 && remoteStates.length >= 1, 'the held messages once the threshold is reached');
    const outcome = { atStart, belowThreshold, delivered: [...delivered], remoteStates: [...remoteStates] };

    const idleCycle = async (): Promise<{ states: string[]; delivered: string[] }> => {
      await until(() => remoteStates.length >= 2, 'the will once idle');
      for (const n of [4, 5, 6]) await publisher.client.publishAsync('meter/a', `qos1-${n}`, { qos: 1 });
      await until(() => delivered.length >= 6 && remoteStates.length >= 3, 'the next threshold');
      return { states: [...remoteStates], delivered: [...delivered] };
    };
    return { ...outcome, idleCycle: local === 'culex' ? idleCycle : undefined, close };
  } catch (error) {
    await close();
    throw error;
  }
}

test('a lazy bridge: Mosquitto and Culex wait at start, drop QoS 0 while down, connect at the threshold of QoS 1 messages and deliver them in order; Culex goes idle after idle_timeout and starts again', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const expected: Outcome = { atStart: [], belowThreshold: [], delivered: ['qos1-first', 'qos1-second', 'qos1-third'], remoteStates: ['1'] };
  const mosquitto = await lazyRun('mosquitto');
  await mosquitto.close();
  assert.deepEqual(pick(mosquitto), expected);
  const culex = await lazyRun('culex');
  try {
    assert.deepEqual(pick(culex), expected);
    const cycle = await culex.idleCycle!();
    // idle: closed without DISCONNECT, so the remote published the bridge's "0" will; then "1" again
    assert.deepEqual(cycle.states, ['1', '0', '1']);
    assert.deepEqual(cycle.delivered, ['qos1-first', 'qos1-second', 'qos1-third', 'qos1-4', 'qos1-5', 'qos1-6']);
  } finally {
    await culex.close();
  }
});

function pick(run: Run): Outcome {
  return { atStart: run.atStart, belowThreshold: run.belowThreshold, delivered: run.delivered, remoteStates: run.remoteStates };
}
