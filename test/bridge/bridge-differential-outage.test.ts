// The same connection section run by Mosquitto and by Culex as the local broker, through an outage
// of the central broker: both must show the same notification values at the edge and deliver the
// same QoS 1 messages, published while the centre was down, once it is back.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { eventually, startCulexConf, startMosquittoConf, type RunningBroker } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;

interface Outcome {
  /** The notification values the edge's subscriber saw, in order. */
  readonly states: string[];
  /** Payloads the central subscriber got, per topic, duplicates removed. */
  readonly delivered: Record<string, string[]>;
}

async function outage(local: 'mosquitto' | 'culex'): Promise<Outcome> {
  const store = mkdtempSync(join(tmpdir(), 'culex-bridge-outage-'));
  const centralLines = ['persistence true', `persistence_location ${store}/`];
  const centralPort = await findFreePort();
  let central = await startMosquittoConf(centralPort, centralLines);
  const edgePort = await findFreePort();
  const section = ['connection outage', `address 127.0.0.1:${centralPort}`, 'remote_clientid outage-bridge', 'restart_timeout 1', 'topic meter/# out 1'];
  let edge: RunningBroker | undefined;
  const peers: Peer[] = [];
  try {
    edge = local === 'mosquitto' ? await startMosquittoConf(edgePort, section) : await startCulexConf(edgePort, [`listener ${edgePort} 127.0.0.1`, 'allow_anonymous true', ...section].join('\n'));
    const consumer = await connectPeer(url(centralPort), { clientId: 'meter-consumer', clean: false, reconnectPeriod: 200 });
    peers.push(consumer);
    await consumer.client.subscribeAsync('meter/#', { qos: 1 });
    const delivered = new Map<string, Set<string>>();
    consumer.client.on('message', (topic, payload) => {
      const set = delivered.get(topic) ?? new Set<string>();
      set.add(payload.toString());
      delivered.set(topic, set);
    });
    const watcher = await connectPeer(url(edgePort));
    peers.push(watcher);
    const states: string[] = [];
    watcher.client.on('message', (topic, payload) => {
      if (topic.startsWith('$SYS/broker/connection/')) states.push(payload.toString());
    });
    await watcher.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 });
    await eventually(() => states.at(-1) === '1', 15_000, `${local}: bridge up`);
    const publisher = await connectPeer(url(edgePort));
    peers.push(publisher);
    await publisher.client.publishAsync('meter/a', 'before', { qos: 1 });
    await eventually(() => delivered.get('meter/a')?.has('before') === true, 10_000, `${local}: first message`);

    await central.stop();
    await eventually(() => states.at(-1) === '0', 15_000, `${local}: 0 at the edge`);
    for (const n of [1, 2, 3]) await publisher.client.publishAsync(`meter/${n % 2 === 0 ? 'a' : 'b'}`, `during-${n}`, { qos: 1 });
    central = await startMosquittoConf(centralPort, centralLines);
    await eventually(() => states.at(-1) === '1', 20_000, `${local}: 1 again`);
    await eventually(() => (delivered.get('meter/a')?.size ?? 0) + (delivered.get('meter/b')?.size ?? 0) === 4, 20_000, `${local}: the messages held during the outage`);
    return { states, delivered: Object.fromEntries([...delivered].map(([topic, set]) => [topic, [...set]]).sort()) };
  } finally {
    await endPeers(...peers);
    await edge?.stop();
    await central.stop();
    rmSync(store, { recursive: true, force: true });
  }
}

test('through a central outage, Mosquitto and Culex as the local broker show the same notification values and deliver the same held messages', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const mosquitto = await outage('mosquitto');
  const culex = await outage('culex');
  assert.deepEqual(mosquitto.states, ['1', '0', '1']);
  assert.deepEqual(mosquitto.delivered, { 'meter/a': ['before', 'during-2'], 'meter/b': ['during-1', 'during-3'] });
  assert.deepEqual(culex, mosquitto);
});
