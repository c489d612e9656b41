// Broker restarts in this process on one SQLite persistence file: what a client left behind
// (persistent sessions, subscriptions, queued and in-flight QoS 1/2 messages, QoS 2 receive state,
// retained messages) is there again after close + reopen, and what expired is not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker, type Culex } from '../../src/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { readOutgoingLog } from '../../src/store/sqlite-read.js';
import { RawClient } from '../helpers/raw-client.js';
import { connectPeer } from '../helpers/mqttjs.js';
import type { PublishPacket, QoS, SubscriptionRequest } from '../../src/protocol/packets.js';

interface Running {
  culex: Culex;
  port: number;
  url: string;
}

/** A broker on the persistence file of `dir`, on a free loopback port. */
async function open(dir: string): Promise<Running> {
  const culex = createBroker({ store: SqliteStore.open({ file: join(dir, 'culex.db') }) });
  const listener = await culex.listen({ port: 0, host: '127.0.0.1' });
  return { culex, port: listener.port, url: `mqtt://127.0.0.1:${listener.port}` };
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'culex-persist-'));
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sub = (filter: string, qos: QoS): SubscriptionRequest => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

function publish(topic: string, payload: string, qos: QoS, packetId = 1, retain = false): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false };
  if (qos > 0) packet.packetId = packetId;
  return packet;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('[MQTT-4.1.0-1] retained messages, subscriptions and queued QoS 1/2 messages of offline sessions survive a restart', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    // a 3.1.1 persistent session and a v5 one with a Session Expiry Interval and a subscription id
    const v4 = await connectPeer(broker.url, { clientId: 'keep-v4', clean: false, protocolVersion: 4 });
    await v4.client.subscribeAsync('p/#', { qos: 2 });
    await v4.client.endAsync();
    const v5 = await connectPeer(broker.url, { clientId: 'keep-v5', clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    await v5.client.subscribeAsync('p/+', { qos: 1, properties: { subscriptionIdentifier: 42 } });
    await v5.client.endAsync();
    const pub = await connectPeer(broker.url, { clientId: 'pub', protocolVersion: 5 });
    await pub.client.publishAsync('p/retained', 'kept', { qos: 1, retain: true });
    await pub.client.publishAsync('p/a', 'one', { qos: 1 });
    await pub.client.publishAsync('p/b', 'two', { qos: 2, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } });
    await pub.client.endAsync();
    await broker.culex.close();

    broker = await open(dir);
    const back4 = await connectPeer(broker.url, { clientId: 'keep-v4', clean: false, protocolVersion: 4 });
    assert.equal(back4.connack.sessionPresent, true, 'session present after the restart [MQTT-3.2.2-3]');
    const got4 = await back4.inbox.take(3, 5000);
    assert.deepEqual(
      got4.map((m) => [m.topic, m.payload, m.packet.qos]),
      [
        ['p/retained', 'kept', 1],
        ['p/a', 'one', 1],
        ['p/b', 'two', 2],
      ],
    );
    const back5 = await connectPeer(broker.url, { clientId: 'keep-v5', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    assert.equal(back5.connack.sessionPresent, true);
    const got5 = await back5.inbox.take(3, 5000);
    assert.deepEqual(
      got5.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.properties?.subscriptionIdentifier]),
      [
        ['p/retained', 'kept', 1, 42],
        ['p/a', 'one', 1, 42],
        ['p/b', 'two', 1, 42],
      ],
    );
    assert.equal(got5[2]!.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...got5[2]!.packet.properties?.userProperties }, { k: 'v' });

    // the subscriptions are there without subscribing again
    const pub2 = await connectPeer(broker.url, { clientId: 'pub2' });
    await pub2.client.publishAsync('p/c', 'after', { qos: 1 });
    assert.equal((await back4.inbox.next(5000)).payload, 'after');
    assert.equal((await back5.inbox.next(5000)).payload, 'after');
    // and the retained message is given to a new subscriber
    const fresh = await connectPeer(broker.url, { clientId: 'fresh' });
    await fresh.client.subscribeAsync('p/retained', { qos: 1 });
    const retained = await fresh.inbox.next(5000);
    assert.deepEqual([retained.payload, retained.packet.retain], ['kept', true]);
    for (const peer of [back4, back5, pub2, fresh]) await peer.client.endAsync();
    await broker.culex.close();
  });
});

test('[MQTT-4.4.0-1] in-flight messages are resent after a restart: QoS 1 PUBLISH with DUP and its packet id, QoS 2 PUBREL', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    const first = await RawClient.connected(broker.port, { clientId: 'inflight', clean: false });
    first.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('f/1', 1), sub('f/2', 2)] });
    await first.expect('suback');
    const pub = await RawClient.connected(broker.port);
    pub.send(publish('f/1', 'q1', 1, 10));
    await pub.expect('puback');
    const q1 = await first.expect('publish');
    pub.send(publish('f/2', 'q2', 2, 11));
    await pub.expect('pubrec');
    pub.send({ type: 'pubrel', packetId: 11 });
    await pub.expect('pubcomp');
    const q2 = await first.expect('publish');
    first.send({ type: 'pubrec', packetId: q2.packetId! });
    const pubrel = await first.expect('pubrel');
    assert.equal(pubrel.packetId, q2.packetId);
    first.destroy(); // neither PUBACK nor PUBCOMP
    pub.destroy();
    await sleep(100);
    await broker.culex.close();

    broker = await open(dir);
    const back = await RawClient.open(broker.port);
    back.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: false, keepalive: 0, clientId: 'inflight' });
    assert.equal((await back.expect('connack')).sessionPresent, true);
    const again = await back.expect('publish');
    assert.deepEqual([again.dup, again.packetId, again.payload.toString()], [true, q1.packetId, 'q1']);
    const rel = await back.expect('pubrel');
    assert.equal(rel.packetId, q2.packetId, 'the QoS 2 flow goes on from PUBREL, the message is not sent again');
    back.send({ type: 'puback', packetId: again.packetId! });
    back.send({ type: 'pubcomp', packetId: rel.packetId });
    assert.ok(await back.nothingWithin(300), 'nothing else was left');
    back.destroy();
    await sleep(100);
    await broker.culex.close();

    // acknowledged: gone from the store too
    broker = await open(dir);
    const last = await RawClient.open(broker.port);
    last.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: false, keepalive: 0, clientId: 'inflight' });
    await last.expect('connack');
    assert.ok(await last.nothingWithin(300));
    last.destroy();
    await broker.culex.close();
  });
});

test('[MQTT-4.3.3-10] QoS 2 receive state survives a restart: the resent PUBLISH and the PUBREL complete without a second delivery', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    const watcher = await connectPeer(broker.url, { clientId: 'watcher', clean: false });
    await watcher.client.subscribeAsync('once', { qos: 2 });
    await watcher.client.endAsync();
    const pub = await RawClient.connected(broker.port, { clientId: 'q2pub', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    pub.send(publish('once', 'exactly', 2, 77));
    assert.equal((await pub.expect('pubrec')).packetId, 77);
    pub.destroy(); // no PUBREL yet
    await sleep(100);
    await broker.culex.close();

    broker = await open(dir);
    const back = await RawClient.open(broker.port, 5);
    back.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: false, keepalive: 0, clientId: 'q2pub', properties: { sessionExpiryInterval: 600 } });
    assert.equal((await back.expect('connack')).sessionPresent, true);
    back.send({ ...publish('once', 'exactly', 2, 77), dup: true }); // the client did not see the PUBREC
    assert.equal((await back.expect('pubrec')).packetId, 77);
    back.send({ type: 'pubrel', packetId: 77 });
    const pubcomp = await back.expect('pubcomp');
    assert.equal(pubcomp.reasonCode ?? 0, 0, 'the packet id was known after the restart');
    const got = await connectPeer(broker.url, { clientId: 'watcher', clean: false });
    assert.equal((await got.inbox.next(5000)).payload, 'exactly');
    assert.ok(await got.inbox.nothingWithin(400), 'delivered once');
    await got.client.endAsync();
    back.destroy();
    await broker.culex.close();
  });
});

test('[MQTT-3.1.2-23] session expiry counts from the disconnection across a restart; clean sessions are not kept', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    const short = await connectPeer(broker.url, { clientId: 'short', protocolVersion: 5, properties: { sessionExpiryInterval: 1 } });
    await short.client.subscribeAsync('x', { qos: 1 });
    await short.client.endAsync();
    const long = await connectPeer(broker.url, { clientId: 'long', protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    await long.client.endAsync();
    const clean = await connectPeer(broker.url, { clientId: 'clean', protocolVersion: 5 });
    await clean.client.subscribeAsync('x', { qos: 1 });
    await clean.client.endAsync();
    await broker.culex.close();
    await sleep(1300);

    broker = await open(dir);
    const expired = await connectPeer(broker.url, { clientId: 'short', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 1 } });
    assert.equal(expired.connack.sessionPresent, false, 'expired while the broker was down');
    const kept = await connectPeer(broker.url, { clientId: 'long', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    assert.equal(kept.connack.sessionPresent, true);
    const gone = await connectPeer(broker.url, { clientId: 'clean', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 } });
    assert.equal(gone.connack.sessionPresent, false, 'a session with expiry 0 is not persisted');
    for (const peer of [expired, kept, gone]) await peer.client.endAsync();
    await broker.culex.close();
  });
});

test('[MQTT-3.3.2-5] messages whose expiry passed while the broker was down are not delivered, retained or queued', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    const offline = await connectPeer(broker.url, { clientId: 'exp', protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    await offline.client.subscribeAsync('e/#', { qos: 1 });
    await offline.client.endAsync();
    const pub = await connectPeer(broker.url, { clientId: 'exp-pub', protocolVersion: 5 });
    await pub.client.publishAsync('e/short', 'gone', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await pub.client.publishAsync('e/long', 'stays', { qos: 1, retain: true, properties: { messageExpiryInterval: 3600 } });
    await pub.client.endAsync();
    await broker.culex.close();
    await sleep(1300);

    broker = await open(dir);
    const back = await connectPeer(broker.url, { clientId: 'exp', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    const queued = await back.inbox.next(5000);
    assert.equal(queued.payload, 'stays');
    const remaining = queued.packet.properties?.messageExpiryInterval ?? 0;
    assert.ok(remaining > 3500 && remaining <= 3600, `remaining expiry ${remaining}`);
    assert.ok(await back.inbox.nothingWithin(300), 'the expired queued message was dropped');
    const fresh = await connectPeer(broker.url, { clientId: 'exp-fresh', protocolVersion: 5 });
    await fresh.client.subscribeAsync('e/#', { qos: 1 });
    assert.deepEqual((await fresh.inbox.take(1, 5000)).map((m) => m.payload), ['stays']);
    assert.ok(await fresh.inbox.nothingWithin(300), 'the expired retained message was dropped');
    await back.client.endAsync();
    await fresh.client.endAsync();
    await broker.culex.close();
  });
});

test('a message queued for several persistent sessions is stored once, and removed when the last one has it', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    for (const clientId of ['s1', 's2', 's3']) {
      const peer = await connectPeer(broker.url, { clientId, clean: false });
      await peer.client.subscribeAsync('shared/topic', { qos: 1 });
      await peer.client.endAsync();
    }
    const pub = await connectPeer(broker.url, { clientId: 'one-pub' });
    await pub.client.publishAsync('shared/topic', Buffer.alloc(10_000, 7), { qos: 1 });
    await pub.client.endAsync();
    await broker.culex.close();

    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const inFile = <T>(read: (db: import('better-sqlite3').Database) => T): T => {
      const db = new Database(join(dir, 'culex.db'), { readonly: true });
      try {
        return read(db);
      } finally {
        db.close();
      }
    };
    const count = (sql: string): number => inFile((db) => (db.prepare(sql).get() as { n: number }).n);
    const entries = (): number => inFile((db) => [...readOutgoingLog(db).sessions.values()].reduce((n, entries) => n + entries.size, 0));
    assert.equal(entries(), 3);
    assert.equal(inFile((db) => readOutgoingLog(db).messages.size), 1);
    assert.ok(count('SELECT sum(length(data)) AS n FROM outgoing_log') < 2 * 10_000, 'the 10,000-byte payload is in the file once');

    broker = await open(dir);
    for (const clientId of ['s1', 's2', 's3']) {
      const peer = await connectPeer(broker.url, { clientId, clean: false });
      assert.equal((await peer.inbox.next(5000)).packet.payload.length, 10_000);
      await sleep(50); // MQTT.js sends PUBACK after the message event
      await peer.client.endAsync();
    }
    await broker.culex.close();
    assert.equal(entries(), 0);
    assert.equal(count('SELECT count(*) AS n FROM outgoing_log'), 0, 'with no entry left, the log keeps no row (nor the message)');
  });
});

test('[MQTT-4.1.0-1] a session offline for long keeps its queued message across a restart while another session\'s traffic moves the outgoing log on past it', async () => {
  await withDir(async (dir) => {
    let broker = await open(dir);
    const sleeper = await connectPeer(broker.url, { clientId: 'sleeper', clean: false });
    await sleeper.client.subscribeAsync('old/topic', { qos: 1 });
    await sleeper.client.endAsync();
    const busy = await connectPeer(broker.url, { clientId: 'busy', clean: false });
    await busy.client.subscribeAsync('busy/topic', { qos: 1 });
    const pub = await connectPeer(broker.url, { clientId: 'log-pub' });
    await pub.client.publishAsync('old/topic', 'kept while the log moved on', { qos: 1 });
    // 2,000 × 2 KiB through the busy session: 4 MB of log rows, past the 1 MiB margin, so the
    // sleeper's session and message at the front are written again and the first rows freed
    const payload = Buffer.alloc(2048, 0x5a);
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 100 }, () => pub.client.publishAsync('busy/topic', payload, { qos: 1 })));
    }
    let received = 0;
    while (received < 2000) {
      await busy.inbox.next(5000);
      received++;
    }
    await sleep(100); // the last PUBACKs
    await pub.client.endAsync();
    await busy.client.endAsync();
    await broker.culex.close();

    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(join(dir, 'culex.db'), { readonly: true });
    try {
      const { first, bytes } = db.prepare('SELECT min(row) AS first, sum(length(data)) AS bytes FROM outgoing_log').get() as { first: number; bytes: number };
      assert.ok(first > 1, `the first rows were freed (the log starts at row ${first})`);
      assert.ok(bytes < 2 * 1024 * 1024, `the log holds ${bytes} bytes, not the 4 MB that went through it`);
    } finally {
      db.close();
    }

    broker = await open(dir);
    const back = await connectPeer(broker.url, { clientId: 'sleeper', clean: false });
    const message = await back.inbox.next(5000);
    assert.equal(message.topic, 'old/topic');
    assert.equal(message.packet.payload.toString(), 'kept while the log moved on');
    await back.client.endAsync();
    await broker.culex.close();
  });
});
