// Persistent sessions in Redis across Culex nodes (`culex broker --cluster URL
// --persistence-location DIR`), on a real redis-server with appendonly and on a three-primary Redis
// Cluster, driven by MQTT.js: a session taken over from a live node keeps its queued messages and,
// during traffic from a third node, loses none of the messages published in the hand-over, a
// node SIGKILLed during QoS 1 and QoS 2 traffic to a persistent subscriber loses no acknowledged
// message (QoS 2 on one server: none twice either), a session's keys leave Redis when it expires, and
// what a session did while Redis was away (messages acknowledged) reaches Redis once it is back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Store } from 'mqtt';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { runTool } from '../helpers/processes.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';
import { SessionNodes as Nodes, untilRouted } from '../helpers/cluster-nodes.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;
let counter = 0;
const unique = (name: string): string => `sessions/${name}-${process.pid}-${++counter}`;
const url = (node: CulexProcess): string => `mqtt://127.0.0.1:${node.port}`;
const persistent = (clientId: string, extra: object = {}): object => ({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 }, ...extra });

/** An MQTT.js message store that outlives the client closing it, to be handed to its next connection. */
class KeptStore extends Store {
  override close(callback?: () => void): this {
    callback?.();
    return this;
  }
}

/** Publishes `count` messages from `pub`, at most 20 unacknowledged; calls onAck with each acknowledged index. */
async function publishAll(pub: Peer, topic: string, count: number, qos: 1 | 2, onAck: (i: number) => void, afterAcks: number, atThatPoint: () => Promise<unknown>): Promise<void> {
  let next = 0;
  let acked = 0;
  let triggered: Promise<unknown> | undefined;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await pub.client.publishAsync(topic, String(i), { qos });
      onAck(i);
      if (++acked === afterAcks) triggered = atThatPoint();
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  await triggered;
}

async function takeoverKeepsQueue(env: Nodes): Promise<void> {
  const nodes = env.list;
  const base = unique('takeover');
  const id = `${base}-sub`;
  const sub = await connectPeer(url(nodes[0]!), persistent(id));
  const pub = await connectPeer(url(nodes[1]!), { protocolVersion: 5, clientId: `${base}-pub` });
  let back: Peer | undefined;
  try {
    await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
    await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
    await endPeers(sub); // away: its session waits on node 1
    for (let i = 0; i < 20; i++) await pub.client.publishAsync(`${base}/t`, String(i), { qos: 1 });
    back = await connectPeer(url(nodes[2]!), persistent(id), 20_000);
    assert.equal(back.connack.sessionPresent, true, 'the session moved to node 3');
    const got = await back.inbox.take(20, 20_000);
    assert.deepEqual(got.map((m) => Number(m.payload)), Array.from({ length: 20 }, (_, i) => i));
    // its subscription moved too: new messages reach it on node 3 once its route got to node 2
    await untilRouted(() => pub.client.publishAsync(`${base}/after`, 'later', { qos: 1 }), back.inbox);
  } finally {
    await endPeers(sub, pub, back);
  }
}

async function killDuringTraffic(env: Nodes, qos: 1 | 2): Promise<void> {
  const nodes = env.list;
  const base = unique(`kill-q${qos}`);
  const id = `${base}-sub`;
  const doomed = await env.start(`${base}-node`);
  // one incoming store for both connections of the subscriber: a QoS 2 message whose PUBREL
  // reaches the second connection is the one the first stored [MQTT-4.3.3]
  const incomingStore = new KeptStore();
  const sub = await connectPeer(url(doomed), persistent(id, { incomingStore }));
  const pub = await connectPeer(url(nodes[1]!), { protocolVersion: 5, clientId: `${base}-pub` });
  let back: Peer | undefined;
  try {
    await sub.client.subscribeAsync(`${base}/#`, { qos });
    await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
    const acked = new Set<number>();
    const count = 400;
    await publishAll(pub, `${base}/t`, count, qos, (i) => acked.add(i), 150, () => doomed.stop('SIGKILL'));
    assert.equal(acked.size, count, 'every message was acknowledged by the publisher node');
    sub.client.end(true);
    const before = sub.inbox.drain().map((m) => Number(m.payload));
    back = await connectPeer(url(nodes[0]!), persistent(id, { incomingStore }), 30_000);
    assert.equal(back.connack.sessionPresent, true, 'the session resumed on another node');
    const received = [...before];
    const deadline = Date.now() + 60_000;
    const missing = (): number[] => [...acked].filter((i) => !received.includes(i));
    while (missing().length > 0 && Date.now() < deadline) {
      try {
        received.push(Number((await back.inbox.next(Math.max(1, deadline - Date.now()))).payload));
      } catch {
        break;
      }
    }
    if (missing().length > 0) console.error('what the nodes logged:', [...nodes.map((n) => n.log()), doomed.log()].join('\n'), '\nreceived:', received.join(' '));
    assert.deepEqual(missing(), [], `lost ${missing().length} acknowledged messages (received ${received.length})`);
    if (qos === 2) {
      await back.inbox.nothingWithin(1000);
      received.push(...back.inbox.drain().map((m) => Number(m.payload)));
      const twice = received.filter((value, index) => received.indexOf(value) !== index);
      assert.deepEqual(twice, [], 'QoS 2 messages delivered twice');
    }
  } finally {
    await endPeers(sub, pub, back);
    await doomed.stop('SIGKILL');
  }
}

/**
 * A persistent subscriber on node 1 while node 2's publisher sends a steady stream (one message
 * every millisecond or so, at most 20 unacknowledged); midway the subscriber resumes through node
 * 3, so messages are on their way to node 1 while it lets the session go and before node 3's routes
 * are known. Every acknowledged message must arrive, through either connection; at QoS 2 none twice.
 */
async function handOverDuringTraffic(env: Nodes, qos: 1 | 2): Promise<void> {
  const nodes = env.list;
  const base = unique(`window-q${qos}`);
  const id = `${base}-sub`;
  const incomingStore = new KeptStore(); // a QoS 2 message's PUBREL may reach the second connection [MQTT-4.3.3]
  const sub = await connectPeer(url(nodes[0]!), persistent(id, { incomingStore }));
  const pub = await connectPeer(url(nodes[1]!), { protocolVersion: 5, clientId: `${base}-pub` });
  let back: Peer | undefined;
  try {
    await sub.client.subscribeAsync(`${base}/#`, { qos });
    await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
    const acked = new Set<number>();
    const count = 300;
    let moving: Promise<Peer> | undefined;
    const sending: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      while (sending.length - acked.size >= 20) await new Promise((resolve) => setTimeout(resolve, 1));
      sending.push(pub.client.publishAsync(`${base}/t`, String(i), { qos }).then(() => void acked.add(i)));
      if (i === 100) moving = connectPeer(url(nodes[2]!), persistent(id, { incomingStore }), 20_000);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(sending);
    back = await moving!;
    assert.equal(back.connack.sessionPresent, true, 'the session moved to node 3');
    const received = sub.inbox.drain().map((m) => Number(m.payload));
    const firstCount = received.length;
    const missing = (): number[] => [...acked].filter((i) => !received.includes(i));
    const deadline = Date.now() + 20_000;
    while (missing().length > 0 && Date.now() < deadline) {
      try {
        received.push(Number((await back.inbox.next(Math.max(1, deadline - Date.now()))).payload));
      } catch {
        break;
      }
    }
    if (missing().length > 0) console.error('what the nodes logged:', nodes.map((n) => n.log()).join('\n'));
    assert.deepEqual(missing(), [], `lost ${missing().length} acknowledged messages of ${acked.size} (received ${received.length}, ${firstCount} on the first connection): ${received.join(' ')}`);
    if (qos === 2) {
      await back.inbox.nothingWithin(1000);
      received.push(...back.inbox.drain().map((m) => Number(m.payload)));
      const twice = received.filter((value, index) => received.indexOf(value) !== index);
      assert.deepEqual(twice, [], `QoS 2 messages delivered twice; first connection got ${firstCount}: ${received.join(' ')}`);
    }
  } finally {
    await endPeers(sub, pub, back);
  }
}

describe('persistent sessions in Redis across nodes, one redis-server', { skip }, () => {
  let redis: RedisServer;
  let env: Nodes;
  before(async () => {
    redis = await startRedis({ appendonly: true });
    env = new Nodes(redis.url);
    await env.startThree('s');
  });
  after(async () => {
    await env?.stop();
    await redis?.destroy();
  });

  test('a session taken over from a live node keeps its subscriptions and the QoS 1 messages queued for it (session present) [MQTT-3.2.2-3]', () => takeoverKeepsQueue(env));
  test('a node SIGKILLed during QoS 1 traffic to a persistent subscriber loses no acknowledged message when the client resumes through another node', () => killDuringTraffic(env, 1));
  test('a session handed over from a live node during QoS 1 traffic published on a third node loses no acknowledged message: the Server adds each message it took ownership of to the session of every matching subscription [MQTT-4.5.0-1]', () => handOverDuringTraffic(env, 1));
  test('a node SIGKILLed during QoS 2 traffic to a persistent subscriber loses no acknowledged message and delivers none twice when the client resumes through another node', () => killDuringTraffic(env, 2));
  test('a session handed over from a live node during QoS 2 traffic published on a third node loses no acknowledged message and delivers none twice, the last ones sent before the cut resent with their packet identifiers [MQTT-4.5.0-1] [MQTT-4.4.0-1]', () => handOverDuringTraffic(env, 2));

  test('changes a session made while Redis was away reach Redis once it is back: messages acknowledged during the outage are not delivered again after their node dies', async () => {
    const nodes = env.list;
    const base = unique('outage');
    const id = `${base}-sub`;
    const holder = await env.start(`${base}-node`);
    const sub = await connectPeer(url(holder), persistent(id));
    const pub = await connectPeer(url(nodes[1]!), { protocolVersion: 5, clientId: `${base}-pub` });
    const cli = (...args: string[]): Promise<string> => runTool('redis-cli', ['-p', String(redis.port), ...args]).then((r) => r.stdout.trim());
    const queued = async (): Promise<number> => {
      const answer = await cli('hlen', `culex:{s:${id}}:out`);
      return /^\d+$/.test(answer) ? Number(answer) : NaN; // NaN while Redis is still loading
    };
    let during: Peer | undefined;
    let back: Peer | undefined;
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
      await endPeers(sub);
      for (let i = 0; i < 10; i++) await pub.client.publishAsync(`${base}/t`, String(i), { qos: 1 });
      for (let i = 0; i < 50 && (await queued()) < 10; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await queued(), 10, 'ten messages queued in Redis');
      await redis.stop(); // appendonly: what Redis had comes back with it
      // the holder serves its session from memory meanwhile; the client takes and acknowledges all ten
      during = await connectPeer(url(holder), persistent(id));
      assert.equal(during.connack.sessionPresent, true);
      assert.deepEqual((await during.inbox.take(10, 10_000)).map((m) => Number(m.payload)), Array.from({ length: 10 }, (_, i) => i));
      await during.inbox.nothingWithin(300);
      await endPeers(during);
      await redis.start();
      for (let i = 0; i < 100 && (await queued()) !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await queued(), 0, `the acknowledgements reached Redis: ${holder.log()}`);
      await holder.stop('SIGKILL');
      back = await connectPeer(url(nodes[2]!), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was adopted');
      assert.equal(await back.inbox.nothingWithin(1500), true, 'nothing acknowledged is delivered again');
    } finally {
      await endPeers(sub, pub, during, back);
      await holder.stop('SIGKILL');
    }
  });

  test('an expired session leaves Redis: its keys carry the expiry as a TTL while the client is away', async () => {
    const nodes = env.list;
    const base = unique('expiry');
    const id = `${base}-sub`;
    const sub = await connectPeer(url(nodes[2]!), { protocolVersion: 5, clientId: id, clean: true, properties: { sessionExpiryInterval: 2 } });
    await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
    const key = `culex:{s:${id}}:subs`;
    const cli = (...args: string[]): Promise<string> => runTool('redis-cli', ['-p', String(redis.port), ...args]).then((r) => r.stdout.trim());
    assert.equal(await cli('exists', key), '1', 'the session is in Redis while connected');
    assert.equal(await cli('pttl', key), '-1', 'no TTL while connected');
    await endPeers(sub);
    let ttl = '';
    for (let i = 0; i < 50 && !(Number(ttl) > 0); i++) {
      ttl = await cli('pttl', key);
      if (!(Number(ttl) > 0)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(Number(ttl) > 0 && Number(ttl) <= 2000, `TTL ${ttl}`);
    let exists = '1';
    for (let i = 0; i < 100 && exists !== '0'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      exists = await cli('exists', key);
    }
    assert.equal(exists, '0', 'the expired session is gone from Redis');
  });
});

describe('persistent sessions in Redis across nodes, three-primary Redis Cluster', { skip }, () => {
  let redis: RedisCluster;
  let env: Nodes;
  before(async () => {
    redis = await startRedisCluster();
    env = new Nodes(redis.url);
    await env.startThree('rc');
  });
  after(async () => {
    await env?.stop();
    await redis?.stop();
  });

  test('on a Redis Cluster: a session taken over from a live node keeps the QoS 1 messages queued for it', () => takeoverKeepsQueue(env));
  test('on a Redis Cluster: a node SIGKILLed during QoS 1 traffic to a persistent subscriber loses no acknowledged message', () => killDuringTraffic(env, 1));
});
