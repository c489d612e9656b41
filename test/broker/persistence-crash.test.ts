// The crash test: `culex broker --persistence-location DIR` as a child process, killed with SIGKILL at
// random moments (seeded) while MQTT.js publishers send numbered QoS 1 and QoS 2 messages to
// persistent subscribers, then restarted; a few rounds. At the end every message whose PUBACK or
// PUBCOMP the publisher received must reach every subscriber: QoS 1 at least once, QoS 2 exactly
// once; the retained message and the subscriptions must be intact.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { startCulexProcess, type CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, type Peer } from '../helpers/mqttjs.js';
import { prng } from '../helpers/random.js';
import { findFreePort } from '../helpers/ports.js';

const seed = Number(process.env.CULEX_TEST_SEED ?? 20261201);
const rounds = 4;
/** Per publisher and round; 4 rounds × 2 publishers stay under the default queue limit of 1000. */
const perRound = 100;
const window = 10;

/**
 * The 3.1.1 subscriber stays online through the crashes (one MQTT.js client that reconnects, keeping
 * its QoS 2 receive state, so in-flight flows are cut too); the v5 one is offline until the end.
 */
const subscribers: { id: string; options: IClientOptions }[] = [
  { id: 'crash-sub-v4', options: { clientId: 'crash-sub-v4', clean: false, protocolVersion: 4, resubscribe: false } },
  { id: 'crash-sub-v5', options: { clientId: 'crash-sub-v5', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } } },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts what a subscriber receives, across the client objects it had. */
function count(peer: Peer, id: string, deliveries: Map<string, number>): void {
  peer.client.on('message', (topic, payload) => {
    const key = `${id} ${topic} ${payload.toString()}`;
    deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
  });
  // messages that arrived between CONNACK and the listener above
  for (const message of peer.inbox.drain()) {
    const key = `${id} ${message.topic} ${message.payload}`;
    deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
  }
}

/**
 * Publishes numbered messages (at most `window` unacknowledged) until `perRound` are sent or the
 * connection dies; `acked` gets each number whose PUBACK/PUBCOMP arrived.
 */
function publishUntilClosed(url: string, clientId: string, qos: 1 | 2, first: number, acked: Set<number>): { client: MqttClient; connected: Promise<void>; done: Promise<void> } {
  const client = connect(url, { clientId, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
  client.on('error', () => undefined);
  const connected = new Promise<void>((resolve) => {
    client.once('connect', () => resolve());
    client.once('close', () => resolve());
  });
  const done = new Promise<void>((resolve) => {
    let next = first;
    let outstanding = 0;
    let closed = false;
    const pump = (): void => {
      while (!closed && outstanding < window && next < first + perRound) {
        const seq = next++;
        outstanding++;
        client.publish(`crash/q${qos}`, String(seq), { qos }, (error) => {
          outstanding--;
          if (error === undefined || error === null) acked.add(seq);
          if (next >= first + perRound && outstanding === 0) resolve();
          else pump();
        });
      }
    };
    client.on('connect', pump);
    client.on('close', () => {
      closed = true;
      resolve();
    });
  });
  return { client, connected, done };
}

test('[MQTT-4.3.2-2] [MQTT-4.3.3-3] [MQTT-4.1.0-1] after SIGKILLs at random moments, every acknowledged QoS 1 message is delivered at least once and every QoS 2 message exactly once; retained messages and subscriptions survive', async (t) => {
  const random = prng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'culex-crash-'));
  // every incarnation also listens on one fixed port, so the online subscriber reconnects by itself
  const port = await findFreePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const args = ['-p', String(port), '--persistence-location', dir];
  const deliveries = new Map<string, number>();
  const acked = { 1: new Set<number>(), 2: new Set<number>() };
  let broker: CulexProcess | undefined;
  const peers: MqttClient[] = [];
  try {
    broker = await startCulexProcess(args, 30_000);
    for (const sub of subscribers) {
      const peer = await connectPeer(url, sub.options);
      await peer.client.subscribeAsync('crash/#', { qos: 2 });
      await peer.client.endAsync();
    }
    const setup = await connectPeer(url, { clientId: 'crash-setup' });
    await setup.client.publishAsync('state/retained', 'still here', { qos: 1, retain: true });
    await setup.client.endAsync();
    const online = await connectPeer(url, { ...subscribers[0]!.options, reconnectPeriod: 250 });
    online.client.on('error', () => undefined);
    count(online, subscribers[0]!.id, deliveries);
    peers.push(online.client);

    for (let round = 0; round < rounds; round++) {
      const q1 = publishUntilClosed(url, `crash-pub1-${round}`, 1, round * perRound, acked[1]);
      const q2 = publishUntilClosed(url, `crash-pub2-${round}`, 2, round * perRound, acked[2]);
      peers.push(q1.client, q2.client);
      await Promise.all([q1.connected, q2.connected]);
      await sleep(Math.floor(random() * 400)); // a random moment of the publishing
      const exit: { signal: NodeJS.Signals | null } = await broker.stop('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL', 'the broker was killed, not stopped');
      await Promise.race([Promise.all([q1.done, q2.done]), sleep(5000)]);
      for (const client of [q1.client, q2.client]) client.end(true);
      broker = await startCulexProcess(args, 30_000);
    }
    t.diagnostic(`seed ${seed}: acknowledged QoS 1 ${acked[1].size}, QoS 2 ${acked[2].size} of ${rounds * perRound} each`);
    assert.ok(acked[1].size > 0 && acked[2].size > 0, `some messages were acknowledged (QoS 1: ${acked[1].size}, QoS 2: ${acked[2].size})`);

    // the subscribers come back: their sessions, subscriptions and queues are there
    const offline = subscribers[1]!;
    const peer = await connectPeer(url, offline.options);
    assert.equal(peer.connack.sessionPresent, true, `${offline.id}: session present`);
    count(peer, offline.id, deliveries);
    peers.push(peer.client);
    const missing = (): string[] => {
      const absent: string[] = [];
      for (const sub of subscribers) {
        for (const qos of [1, 2] as const) {
          for (const seq of acked[qos]) if (!deliveries.has(`${sub.id} crash/q${qos} ${seq}`)) absent.push(`${sub.id} q${qos} #${seq}`);
        }
      }
      return absent;
    };
    const deadline = Date.now() + 30_000;
    while (missing().length > 0 && Date.now() < deadline) await sleep(100);
    await sleep(500); // time for a duplicate to show up
    assert.deepEqual(missing(), [], 'acknowledged messages not delivered');
    const duplicated = [...deliveries].filter(([key, times]) => key.includes(' crash/q2 ') && times > 1);
    assert.deepEqual(duplicated, [], 'QoS 2 messages delivered more than once');

    // subscriptions still route without subscribing again
    const after = await connectPeer(url, { clientId: 'crash-after' });
    await after.client.publishAsync('crash/q1', 'after', { qos: 1 });
    peers.push(after.client);
    for (const sub of subscribers) {
      const key = `${sub.id} crash/q1 after`;
      const until = Date.now() + 10_000;
      while (!deliveries.has(key) && Date.now() < until) await sleep(50);
      assert.ok(deliveries.has(key), `${sub.id} still subscribed`);
    }
    // the retained message is intact
    const fresh = await connectPeer(url, { clientId: 'crash-fresh' });
    peers.push(fresh.client);
    await fresh.client.subscribeAsync('state/retained', { qos: 1 });
    const retained = await fresh.inbox.next(10_000);
    assert.deepEqual([retained.payload, retained.packet.retain], ['still here', true]);
  } finally {
    for (const client of peers) client.end(true);
    await broker?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
