// The Redis store against a real redis-server (appendonly yes) and a three-primary Redis Cluster:
// the deltas the broker records come back from sessionLoad as they were, an add and a delete in
// one commit never reach Redis, a session written back whole replaces what Redis had, a disconnected
// session's keys carry its expiry as a TTL and are gone after it, and a deleted session leaves no key
// behind.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseClusterUrl } from '../../src/cluster/cluster-url.js';
import { redisClient, type Commands } from '../../src/cluster/redis-link.js';
import { RedisStore } from '../../src/store/redis.js';
import { allSessionKeys, sessionKeys } from '../../src/store/redis-keys.js';
import type { StoredMessage } from '../../src/store/port.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { runTool } from '../helpers/processes.js';
import { requireTool } from '../helpers/tools.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;

async function openStore(url: string): Promise<RedisStore> {
  const parsed = parseClusterUrl(url);
  if (typeof parsed === 'string') throw new Error(parsed);
  const client = redisClient(parsed);
  await client.connect();
  return new RedisStore(client);
}

const message = (id: number, topic: string, payload: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({
  id,
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  properties: undefined,
  expiresAt: 0,
  receivedAt: 1_700_000_000_000 + id,
  origin: 'publisher',
  ...extra,
});

async function existing(client: Commands, clientId: string): Promise<number> {
  let count = 0;
  for (const key of allSessionKeys(sessionKeys(clientId))) count += await client.exists(key);
  return count;
}

/** Polls (bounded: 100 × 100 ms) until the check passes. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never: ${what}`);
}

function storeTests(name: string, url: () => string): void {
  test(`${name}: a session's deltas come back from sessionLoad (header, subscriptions, queued and in-flight messages, QoS 2 receive state)`, async () => {
    const store = await openStore(url());
    try {
      const id = `rt-${name}-${process.pid}`;
      const withProps = message(11, 'a/b', 'first', { qos: 2, properties: { userProperties: [['k', 'v1'], ['k', 'v2']], correlationData: Buffer.from([0, 1, 2]), messageExpiryInterval: 60 }, expiresAt: Date.now() + 60_000 });
      const plain = message(12, 'a/c', 'second');
      const gone = message(13, 'a/d', 'acknowledged before the commit');
      store.sessionSave({ clientId: id, protocolVersion: 5, expiryInterval: 300, disconnectedAt: 0 });
      store.subscriptionSet(id, { filter: 'a/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 7 });
      store.subscriptionSet(id, { filter: '$share/g/x', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
      store.subscriptionSet(id, { filter: 'dropped/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
      store.subscriptionDelete(id, 'dropped/#');
      for (const m of [withProps, plain, gone]) store.messageAdd(m);
      store.outgoingAdd(id, { seq: 1, messageId: 11, qos: 2, retain: false, subscriptionIds: [7], packetId: 0, state: 'queued' });
      store.outgoingAdd(id, { seq: 2, messageId: 12, qos: 1, retain: true, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      store.outgoingAdd(id, { seq: 3, messageId: 13, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      store.outgoingUpdate(id, { seq: 1, messageId: 11, qos: 2, retain: false, subscriptionIds: [7], packetId: 5, state: 'pubrel' });
      store.outgoingDelete(id, 3);
      store.messageDelete(13);
      store.incomingQos2Add(id, 9);
      store.incomingQos2Add(id, 10);
      store.incomingQos2Delete(id, 10);
      await store.sync();
      assert.equal(await store.client.hexists(sessionKeys(id).bodies, '3'), 0, 'an entry added and deleted in one commit never reaches Redis');

      const loaded = await store.sessionLoad(id);
      assert.ok(loaded !== undefined);
      const s = loaded.session;
      assert.deepEqual([s.clientId, s.protocolVersion, s.expiryInterval, s.disconnectedAt], [id, 5, 300, 0]);
      assert.deepEqual([...s.subscriptions].sort((a, b) => a.filter.localeCompare(b.filter)), [
        { filter: '$share/g/x', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined },
        { filter: 'a/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 7 },
      ]);
      // messages come back named by their entry's seq: ids of other processes may clash
      assert.deepEqual(s.outgoing, [
        { seq: 1, messageId: 1, qos: 2, retain: false, subscriptionIds: [7], packetId: 5, state: 'pubrel' },
        { seq: 2, messageId: 2, qos: 1, retain: true, subscriptionIds: undefined, packetId: 0, state: 'queued' },
      ]);
      assert.deepEqual(s.incomingQos2, [9]);
      const byId = new Map(loaded.messages.map((m) => [m.id, m]));
      assert.deepEqual(byId.get(1), { ...withProps, id: 1 });
      assert.deepEqual(byId.get(2), { ...plain, id: 2 });
      assert.equal(byId.size, 2);

      // a later commit: the in-flight entry is completed, the queued one is sent
      store.outgoingDelete(id, 1);
      store.messageDelete(11);
      store.outgoingUpdate(id, { seq: 2, messageId: 12, qos: 1, retain: true, subscriptionIds: undefined, packetId: 6, state: 'publish' });
      // another process's message with the same id 12, queued later by the node holding the session then
      store.messageAdd(message(12, 'a/e', 'from another node'));
      store.outgoingAdd(id, { seq: 4, messageId: 12, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      await store.sync();
      const again = await store.sessionLoad(id);
      assert.deepEqual(again?.session.outgoing, [
        { seq: 2, messageId: 2, qos: 1, retain: true, subscriptionIds: undefined, packetId: 6, state: 'publish' },
        { seq: 4, messageId: 4, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' },
      ]);
      assert.deepEqual(again?.messages.map((m) => [m.id, m.topic, m.payload.toString()]).sort(), [[2, 'a/c', 'second'], [4, 'a/e', 'from another node']]);
      assert.equal(await store.client.hlen(sessionKeys(id).bodies), 2);

      store.sessionDelete(id);
      await store.sync();
      assert.equal(await store.sessionLoad(id), undefined);
      assert.equal(await existing(store.client, id), 0, 'a deleted session leaves no key');
    } finally {
      await store.close();
    }
  });

  test(`${name}: a forwarded message's cluster id (origin node, routing sequence) comes back with its entry; a value without one (written by an earlier version) still reads`, async () => {
    const store = await openStore(url());
    try {
      const id = `cid-${name}-${process.pid}`;
      store.sessionSave({ clientId: id, protocolVersion: 5, expiryInterval: 300, disconnectedAt: 0 });
      store.messageAdd(message(21, 'a/b', 'forwarded', { clusterId: { origin: 'node-a', seq: 42 } }));
      store.messageAdd(message(22, 'a/c', 'local'));
      store.outgoingAdd(id, { seq: 1, messageId: 21, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      store.outgoingAdd(id, { seq: 2, messageId: 22, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      await store.sync();
      // the earlier format: the same JSON header without "c"
      const old = await store.client.hgetBuffer(sessionKeys(id).bodies, '2');
      assert.ok(old !== null && !old.toString('utf8').includes('"c"'));
      const loaded = await store.sessionLoad(id);
      const byId = new Map(loaded?.messages.map((m) => [m.id, m]));
      assert.deepEqual(byId.get(1), message(1, 'a/b', 'forwarded', { clusterId: { origin: 'node-a', seq: 42 }, receivedAt: 1_700_000_000_021 }));
      assert.deepEqual(byId.get(2), message(2, 'a/c', 'local', { receivedAt: 1_700_000_000_022 }));
      store.sessionDelete(id);
      await store.sync();
    } finally {
      await store.close();
    }
  });

  test(`${name}: sessionRewrite replaces what Redis has of a session with the whole of it (the cluster's write-back after Redis lost it), TTL included, and missing() names the sessions Redis has no header for`, async () => {
    const store = await openStore(url());
    try {
      const id = `rw-${name}-${process.pid}`;
      const other = `rw-other-${name}-${process.pid}`;
      // a stale leftover: what Redis kept of the session before (a subscription and an entry since gone)
      store.sessionSave({ clientId: id, protocolVersion: 5, expiryInterval: 600, disconnectedAt: 0 });
      store.subscriptionSet(id, { filter: 'stale/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
      store.messageAdd(message(31, 'stale/x', 'acknowledged since'));
      store.outgoingAdd(id, { seq: 1, messageId: 31, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      await store.sync();
      assert.deepEqual([...(await store.missing([id, other]))], [other]);
      const disconnectedAt = Date.now();
      store.sessionRewrite(
        {
          clientId: id,
          protocolVersion: 5,
          expiryInterval: 600,
          disconnectedAt,
          subscriptions: [{ filter: 'now/#', qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 0, subscriptionId: 3 }],
          outgoing: [
            { seq: 7, messageId: 41, qos: 2, retain: false, subscriptionIds: [3], packetId: 12, state: 'pubrel' },
            { seq: 8, messageId: 42, qos: 1, retain: false, subscriptionIds: [3], packetId: 0, state: 'queued' },
          ],
          incomingQos2: [4, 5],
        },
        [message(41, 'now/a', 'in flight'), message(42, 'now/b', 'queued')],
      );
      await store.sync();
      const loaded = await store.sessionLoad(id);
      assert.ok(loaded !== undefined);
      assert.deepEqual(loaded.session.subscriptions.map((sub) => sub.filter), ['now/#']);
      assert.deepEqual(loaded.session.outgoing.map((e) => [e.seq, e.state, e.packetId]), [[7, 'pubrel', 12], [8, 'queued', 0]]);
      assert.deepEqual(loaded.messages.map((m) => m.payload.toString()).sort(), ['in flight', 'queued']);
      assert.deepEqual([...loaded.session.incomingQos2].sort(), [4, 5]);
      assert.equal(loaded.session.disconnectedAt, disconnectedAt);
      const ttl = await store.client.pttl(sessionKeys(id).bodies);
      assert.ok(ttl > 590_000 && ttl <= 600_000, `the away session's keys carry its expiry, got ${ttl}`);
      store.sessionDelete(id);
      await store.sync();
    } finally {
      await store.close();
    }
  });

  test(`${name}: a disconnected session's keys expire with it (TTL), and reconnecting removes the TTL`, async () => {
    const store = await openStore(url());
    try {
      const id = `ttl-${name}-${process.pid}`;
      const keys = sessionKeys(id);
      store.sessionSave({ clientId: id, protocolVersion: 4, expiryInterval: 600, disconnectedAt: 0 });
      store.subscriptionSet(id, { filter: 't/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
      await store.sync();
      assert.equal(await store.client.pttl(keys.header), -1, 'no TTL while connected');
      store.sessionSave({ clientId: id, protocolVersion: 4, expiryInterval: 600, disconnectedAt: Date.now() });
      await store.sync();
      const ttl = await store.client.pttl(keys.subscriptions);
      assert.ok(ttl > 590_000 && ttl <= 600_000, `TTL of the expiry interval, got ${ttl}`);
      // back again: no TTL
      store.sessionSave({ clientId: id, protocolVersion: 4, expiryInterval: 600, disconnectedAt: 0 });
      await store.sync();
      assert.equal(await store.client.pttl(keys.subscriptions), -1);
      // away with a 1 s expiry; a message queued afterwards creates keys that get the TTL too
      store.sessionSave({ clientId: id, protocolVersion: 4, expiryInterval: 1, disconnectedAt: Date.now() });
      store.messageAdd(message(21, 't/x', 'queued while away'));
      store.outgoingAdd(id, { seq: 1, messageId: 21, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, state: 'queued' });
      await store.sync();
      assert.ok((await store.client.pttl(keys.bodies)) > 0, 'the message queued while away expires with the session');
      assert.ok((await store.sessionLoad(id)) !== undefined);
      await eventually(async () => (await existing(store.client, id)) === 0, 'the expired session removed by Redis');
      assert.equal(await store.sessionLoad(id), undefined);
    } finally {
      await store.close();
    }
  });
}

describe('Redis store on one redis-server', { skip }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis({ appendonly: true });
  });
  after(async () => {
    await redis?.destroy();
  });
  storeTests('server', () => redis.url);
});

describe('Redis store on a three-primary Redis Cluster', { skip }, () => {
  let redis: RedisCluster;
  before(async () => {
    redis = await startRedisCluster();
  });
  after(async () => {
    await redis?.stop();
  });
  storeTests('cluster', () => redis.url);

  test('cluster: a commit that deletes an outgoing entry waits until the commands committed with an earlier commit in another slot (a node\'s inbox deletion) are answered, so the entry never leaves Redis before the inbox copy of its message [MQTT-4.3.3-10]', async () => {
    const store = await openStore(redis.url);
    const client = store.client;
    const id = `gate-${process.pid}`;
    const out = sessionKeys(id).outgoing;
    /** The port of the primary holding a key's slot. */
    const portOf = async (key: string): Promise<number> => {
      const slot = Number(await client.cluster('KEYSLOT', key));
      const ranges = (await client.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
    };
    let inbox = '';
    for (let i = 0; inbox === '' || (await portOf(inbox)) === (await portOf(out)); i++) inbox = `culex:{node:gate-${i}}:inbox`;
    const inboxPort = await portOf(inbox);
    try {
      store.sessionSave({ clientId: id, protocolVersion: 5, expiryInterval: 300, disconnectedAt: 0 });
      store.messageAdd(message(31, 'a/b', 'from another node', { qos: 2 }));
      store.outgoingAdd(id, { seq: 1, messageId: 31, qos: 2, retain: false, subscriptionIds: undefined, packetId: 1, state: 'publish' });
      await client.hset(inbox, 'node-a:1', 'batch');
      // the inbox's primary holds writes for a while: the inbox deletion waits there
      await runTool('redis-cli', ['-p', String(inboxPort), 'client', 'pause', '1500', 'write']);
      const paused = Date.now();
      store.alsoCommit(['hdel', inbox, 'node-a:1']);
      const stored = store.sync();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // the client completes the QoS 2 flow: the entry is deleted in the next commit
      store.outgoingDelete(id, 1);
      store.messageDelete(31);
      const completed = store.sync();
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(Date.now() - paused < 1400, 'still within the pause');
      assert.equal(await client.hexists(out, '1'), 1, 'the entry is still in Redis while the inbox copy is');
      await Promise.all([stored, completed]);
      assert.equal(await client.hexists(inbox, 'node-a:1'), 0);
      assert.equal(await client.hexists(out, '1'), 0, 'deleted once the inbox copy was');
      store.sessionDelete(id);
      await store.sync();
    } finally {
      await runTool('redis-cli', ['-p', String(inboxPort), 'client', 'unpause']);
      await store.close();
    }
  });
});
