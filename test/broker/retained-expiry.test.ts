// Retained messages with a Message Expiry Interval leave the broker when they expire, whether or not
// a subscription asks for their topic again (src/broker/retained-expiry.ts), and the store forgets
// them too; a topic's newer retained message is never removed for an older one's expiry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message } from '../../src/broker/message.js';
import { RetainedMessages } from '../../src/broker/retained.js';
import { createBroker } from '../../src/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { RawClient } from '../helpers/raw-client.js';

const retained = (topic: string, payload: string, expiresAt: number, now: number): Message =>
  new Message(topic, Buffer.from(payload), 1, true, undefined, expiresAt, 'test-client', now);

test('[MQTT-3.3.2-5] an expired retained message is removed by the sweep without any subscription; a newer message on its topic stays', () => {
  const expired: string[] = [];
  const store = new RetainedMessages((message) => expired.push(`${message.topic}=${message.payload.toString()}`));
  try {
    const now = Date.now();
    store.update(retained('fleet/a/status', 'a1', now + 100, now));
    store.update(retained('fleet/b/status', 'b1', now + 200, now));
    store.update(retained('fleet/c/status', 'c1', 0, now)); // no expiry
    store.update(retained('fleet/a/status', 'a2', now + 10_000, now)); // replaces a1 before its expiry
    assert.equal(store.size, 3);
    assert.equal(store.sweepExpired(now + 150), 0, 'a1 was replaced: nothing is current and due yet');
    assert.equal(store.sweepExpired(now + 250), 1);
    assert.deepEqual(expired, ['fleet/b/status=b1']);
    assert.equal(store.size, 2);
    assert.equal(store.sweepExpired(now + 20_000), 1);
    assert.deepEqual(expired, ['fleet/b/status=b1', 'fleet/a/status=a2']);
    assert.deepEqual([...store.all()].map((m) => m.topic), ['fleet/c/status']);
  } finally {
    store.stop();
  }
});

test('the expiry index stays bounded when one topic is retained again and again with a long expiry', () => {
  const store = new RetainedMessages();
  try {
    const now = Date.now();
    for (let i = 0; i < 20_000; i++) store.update(retained('fleet/one/status', String(i), now + 86_400_000, now));
    assert.equal(store.size, 1);
    assert.ok(store.expiryIndexSize <= 2 + 1024 + 1, `index holds ${store.expiryIndexSize} entries for 1 live message`);
    assert.equal(store.sweepExpired(now + 86_400_001), 1);
    assert.equal(store.size, 0);
  } finally {
    store.stop();
  }
});

test('[MQTT-3.3.2-5] a retained message published with a 1 s expiry leaves the broker and its persistence file on its own, no subscription asking', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-retained-expiry-'));
  const file = join(dir, 'culex.db');
  try {
    const culex = createBroker({ store: SqliteStore.open({ file }) });
    await culex.listen({ port: 0, host: '127.0.0.1' });
    const port = culex.listeners[0]!.port;
    try {
      const client = await RawClient.connected(port, { clientId: 'retainer', protocolVersion: 5 });
      client.send({ type: 'publish', topic: 'fleet/x/status', payload: Buffer.from('short-lived'), qos: 1, retain: true, dup: false, packetId: 1, properties: { messageExpiryInterval: 1 } });
      client.send({ type: 'publish', topic: 'fleet/y/status', payload: Buffer.from('kept'), qos: 1, retain: true, dup: false, packetId: 2 });
      await client.expect('puback');
      await client.expect('puback');
      assert.equal(culex.broker.retained.size, 2);
      const deadline = Date.now() + 10_000;
      while (culex.broker.retained.size > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(culex.broker.retained.size, 1, 'the expired retained message is still held');
      assert.deepEqual([...culex.broker.retained.all()].map((m) => m.topic), ['fleet/y/status']);
      client.destroy();
    } finally {
      await culex.close();
    }
    // the file forgot it too: read it with SQLite itself
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(file, { readonly: true });
    try {
      const topics = (db.prepare('SELECT topic FROM retained ORDER BY topic').all() as { topic: string }[]).map((row) => row.topic);
      assert.deepEqual(topics, ['fleet/y/status']);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
