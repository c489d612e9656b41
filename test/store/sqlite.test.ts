// The SQLite store on a real file in a temporary directory: deltas group-committed and read back,
// sessions deleted with everything they own, a file that is not a Culex store refused by name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, StoreOpenError } from '../../src/store/sqlite.js';
import type { OutgoingSource, StoredMessage, StoredOutgoing } from '../../src/store/port.js';
import { compactBuffers, writeNumber } from '../../src/store/sqlite-writes.js';
import { readOutgoingLog } from '../../src/store/sqlite-read.js';

function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'culex-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The outgoing entries, the ids of the messages they refer to (each found in the log) and the
 * number of outgoing log rows in the file itself, read with SQLite directly.
 */
async function rowsInFile(file: string): Promise<{ ids: number[]; outgoing: { c: string; seq: number }[]; logRows: number }> {
  const { createRequire } = await import('node:module');
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(file, { readonly: true });
  try {
    const log = readOutgoingLog(db);
    const outgoing: { c: string; seq: number }[] = [];
    const referenced = new Set<number>();
    for (const [c, entries] of log.sessions) {
      for (const [seq, entry] of entries) {
        outgoing.push({ c, seq });
        assert.ok(log.messages.has(entry.messageId), `message ${entry.messageId} of ${c}'s entry ${seq} is in the log`);
        referenced.add(entry.messageId);
      }
    }
    const ids = [...referenced].sort((a, b) => a - b);
    const logRows = (db.prepare('SELECT count(*) AS n FROM outgoing_log').get() as { n: number }).n;
    return { ids, outgoing: outgoing.sort((x, y) => x.c.localeCompare(y.c) || x.seq - y.seq), logRows };
  } finally {
    db.close();
  }
}

/** A store on `culex.db` in `dir`, loaded (empty) and ready for changes. */
async function loadedStore(dir: string): Promise<{ file: string; store: SqliteStore }> {
  const file = join(dir, 'culex.db');
  const store = SqliteStore.open({ file });
  await store.load();
  return { file, store };
}

const message = (id: number, topic: string, payload: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({
  id,
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  expiresAt: 0,
  receivedAt: 1_700_000_000_000,
  ...extra,
});

test('deltas of one turn are committed together; sync() resolves after the commit and is undefined when idle', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'culex.db');
    const store = SqliteStore.open({ file });
    assert.deepEqual(await store.load(), { sessions: [], retained: [], messages: [] });
    assert.equal(store.sync(), undefined, 'nothing pending');
    store.retainedSet(message(0, 'r/1', 'kept', { retain: true, properties: { correlationData: Buffer.from([1, 2, 3]), userProperties: [['k', 'v']], contentType: 'text/plain' } }));
    store.sessionSave({ clientId: 'c1', protocolVersion: 5, expiryInterval: 3600, disconnectedAt: 0 });
    store.subscriptionSet('c1', { filter: 'a/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 7 });
    store.subscriptionSet('c1', { filter: '$share/g/b', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    store.messageAdd(message(41, 'a/x', 'one', { origin: 'pub' }));
    store.messageAdd(message(42, 'a/y', 'two', { qos: 2, expiresAt: 1_900_000_000_000 }));
    store.outgoingAdd('c1', { seq: 1, messageId: 41, qos: 1, retain: false, packetId: 5, state: 'publish' });
    store.outgoingAdd('c1', { seq: 2, messageId: 42, qos: 2, retain: false, subscriptionIds: [7, 9], packetId: 0, state: 'queued' });
    store.outgoingUpdate('c1', { seq: 2, messageId: 42, qos: 2, retain: false, subscriptionIds: [7, 9], packetId: 6, state: 'pubrel' });
    store.incomingQos2Add('c1', 300);
    store.incomingQos2Add('c1', 301);
    store.incomingQos2Delete('c1', 300);
    const durable = store.sync();
    assert.ok(durable instanceof Promise);
    assert.equal(store.sync(), durable, 'one commit for the whole turn');
    await durable;
    assert.equal(store.sync(), undefined);
    await store.close();

    const reopened = SqliteStore.open({ file });
    const state = await reopened.load();
    assert.equal(state.retained.length, 1);
    const retained = state.retained[0]!;
    assert.equal(retained.topic, 'r/1');
    assert.equal(retained.payload.toString(), 'kept');
    assert.deepEqual(retained.properties, { correlationData: Buffer.from([1, 2, 3]), userProperties: [['k', 'v']], contentType: 'text/plain' });
    assert.deepEqual(
      state.messages.map((m) => [m.id, m.topic, m.payload.toString(), m.qos, m.expiresAt, m.origin]),
      [
        [41, 'a/x', 'one', 1, 0, 'pub'],
        [42, 'a/y', 'two', 2, 1_900_000_000_000, undefined],
      ],
    );
    assert.equal(state.sessions.length, 1);
    const session = state.sessions[0]!;
    assert.deepEqual([session.clientId, session.protocolVersion, session.expiryInterval, session.disconnectedAt], ['c1', 5, 3600, 0]);
    assert.deepEqual(
      [...session.subscriptions].sort((a, b) => a.filter.localeCompare(b.filter)),
      [
        { filter: '$share/g/b', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined },
        { filter: 'a/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 7 },
      ],
    );
    assert.deepEqual(session.outgoing, [
      { seq: 1, messageId: 41, qos: 1, retain: false, subscriptionIds: undefined, packetId: 5, state: 'publish' },
      { seq: 2, messageId: 42, qos: 2, retain: false, subscriptionIds: [7, 9], packetId: 6, state: 'pubrel' },
    ]);
    assert.deepEqual(session.incomingQos2, [301]);

    // a deleted session takes its subscriptions, outgoing entries and QoS 2 state with it; the
    // messages nobody refers to any more are gone at the next load
    reopened.sessionDelete('c1');
    reopened.retainedDelete('r/1');
    await reopened.sync();
    await reopened.close();
    const emptied = SqliteStore.open({ file });
    assert.deepEqual(await emptied.load(), { sessions: [], retained: [], messages: [] });
    await emptied.close();
  } finally {
    cleanup();
  }
});

test('messages and outgoing entries removed within a commit or after one are not read back; once nothing is held, the log keeps no row', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { file, store } = await loadedStore(dir);
    store.sessionSave({ clientId: 'c', protocolVersion: 4, expiryInterval: 60, disconnectedAt: 0 });
    // acknowledged before the commit: not read back
    store.messageAdd(message(1, 't', 'fast'));
    store.outgoingAdd('c', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
    store.outgoingDelete('c', 1);
    store.messageDelete(1);
    // still held at the commit: read back
    store.messageAdd(message(2, 't', 'slow'));
    store.outgoingAdd('c', { seq: 2, messageId: 2, qos: 1, retain: false, packetId: 2, state: 'publish' });
    await store.sync();
    // removed in a later commit: deleted, and a delete, re-add, delete sequence ends deleted
    store.outgoingDelete('c', 2);
    store.messageDelete(2);
    store.messageAdd(message(2, 't', 'slow'));
    store.messageDelete(2);
    store.messageAdd(message(3, 't', 'kept'));
    store.outgoingAdd('c', { seq: 3, messageId: 3, qos: 1, retain: false, packetId: 0, state: 'queued' });
    await store.sync();
    await store.close();
    const { ids, outgoing } = await rowsInFile(file);
    assert.deepEqual(ids, [3]);
    assert.deepEqual(outgoing.map((row) => row.seq), [3]);
    const reopened = SqliteStore.open({ file });
    const state = await reopened.load();
    assert.deepEqual(state.messages.map((m) => [m.id, m.payload.toString()]), [[3, 'kept']]);
    reopened.outgoingDelete('c', 3);
    reopened.messageDelete(3);
    await reopened.sync();
    await reopened.close();
    assert.equal((await rowsInFile(file)).logRows, 0);
  } finally {
    cleanup();
  }
});

test('deletes of many rows in one commit (runs of consecutive keys, lone keys, gaps, two clients) remove exactly those rows', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { file, store } = await loadedStore(dir);
    for (const clientId of ['c1', 'c2']) store.sessionSave({ clientId, protocolVersion: 4, expiryInterval: 60, disconnectedAt: 0 });
    for (let i = 1; i <= 12; i++) {
      store.messageAdd(message(i, 't', `m${i}`));
      store.outgoingAdd('c1', { seq: i, messageId: i, qos: 1, retain: false, packetId: i, state: 'publish' });
      store.messageAdd(message(100 + i, 't', `n${i}`));
      store.outgoingAdd('c2', { seq: 100 + i, messageId: 100 + i, qos: 1, retain: false, packetId: i, state: 'publish' });
    }
    await store.sync();
    // removed in an order other than the keys', with gaps: runs 1–4 and 8–10, lone 6 and 12
    for (const i of [10, 1, 3, 2, 6, 8, 4, 9, 12]) {
      store.outgoingDelete('c1', i);
      store.messageDelete(i);
    }
    store.outgoingDelete('c2', 103);
    store.outgoingDelete('c2', 104);
    store.messageDelete(103);
    store.messageDelete(104);
    await store.sync();
    await store.close();
    const { ids, outgoing: rows } = await rowsInFile(file);
    assert.deepEqual(ids, [5, 7, 11, 101, 102, 105, 106, 107, 108, 109, 110, 111, 112]);
    assert.deepEqual(rows.filter((r) => r.c === 'c1').map((r) => r.seq), [5, 7, 11]);
    assert.deepEqual(rows.filter((r) => r.c === 'c2').map((r) => r.seq), [101, 102, 105, 106, 107, 108, 109, 110, 111, 112]);
  } finally {
    cleanup();
  }
});

test('a commit\'s payloads cross to the writer thread in one buffer of exactly their size (views into a read chunk are not sent whole)', () => {
  const chunk = Buffer.alloc(65_536, 7);
  chunk.write('first', 100);
  chunk.write('second', 30_000);
  const batch: unknown[] = [writeNumber.outgoingLogAppend, 1, chunk.subarray(100, 105), writeNumber.outgoingLogAppend, 2, chunk.subarray(30_000, 30_006), 'text'];
  const arena = compactBuffers(batch);
  assert.ok(arena !== undefined);
  assert.equal(arena.byteLength, 11, 'only the payload bytes');
  assert.equal((batch[2] as Buffer).toString(), 'first');
  assert.equal((batch[5] as Buffer).toString(), 'second');
  assert.equal((batch[2] as Buffer).buffer, arena);
  assert.equal((batch[5] as Buffer).buffer, arena);
  assert.deepEqual([batch[0], batch[1], batch[3], batch[4], batch[6]], [writeNumber.outgoingLogAppend, 1, writeNumber.outgoingLogAppend, 2, 'text']);
  assert.equal(compactBuffers([writeNumber.outgoingLogTrim, 3]), undefined, 'nothing to send when no payload');
});

test('commitDelayMs: changes of later turns join the pending commit; close() commits what is pending', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'delayed.db');
    const store = SqliteStore.open({ file, commitDelayMs: 60_000, synchronous: 'normal' });
    await store.load();
    store.sessionSave({ clientId: 'd', protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: 5 });
    const first = store.sync();
    await new Promise((resolve) => setImmediate(resolve));
    store.subscriptionSet('d', { filter: 't', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    assert.equal(store.sync(), first, 'the second change joins the pending commit');
    await store.close();
    await first; // resolved by the commit of close()
    const again = SqliteStore.open({ file });
    const state = await again.load();
    await again.close();
    assert.equal(state.sessions[0]?.subscriptions.length, 1);
  } finally {
    cleanup();
  }
});

test('a file that is not a Culex persistence file fails to open with its name', () => {
  const { dir, cleanup } = tempDir();
  try {
    const text = join(dir, 'mosquitto.db');
    writeFileSync(text, 'this is not a database, just some text that is long enough to be read as a header by sqlite\n'.repeat(20));
    assert.throws(() => SqliteStore.open({ file: text }), (error: Error) => error instanceof StoreOpenError && error.message.includes(text) && /not a Culex persistence file/.test(error.message));
  } finally {
    cleanup();
  }
});

test('an SQLite database of something else is refused, as is a second broker on the same file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const other = join(dir, 'other.db');
    const { createRequire } = await import('node:module');
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    assert.throws(() => SqliteStore.open({ file: other }), (error: Error) => error instanceof StoreOpenError && error.message.startsWith(other) && /something else/.test(error.message));

    const file = join(dir, 'culex.db');
    const first = SqliteStore.open({ file });
    assert.throws(() => SqliteStore.open({ file }), (error: Error) => error instanceof StoreOpenError && error.message.includes(file) && /in use by another process/.test(error.message));
    await first.close();
    await SqliteStore.open({ file }).close(); // free again once closed
  } finally {
    cleanup();
  }
});

test('a persistence file of format version 1 (one outgoing row per entry) is converted when opened: its sessions keep their entries and messages', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'v1.db');
    const { createRequire } = await import('node:module');
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(file);
    // the version 1 tables as Culex 0.1 created them, with one session holding two entries
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, received_at INTEGER NOT NULL, origin TEXT);
      CREATE TABLE sessions (client_id TEXT PRIMARY KEY, protocol_version INTEGER NOT NULL, expiry_interval INTEGER NOT NULL, disconnected_at INTEGER NOT NULL);
      CREATE TABLE subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL, retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
      CREATE TABLE messages (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, received_at INTEGER NOT NULL, origin TEXT);
      CREATE TABLE outgoing (client_id TEXT NOT NULL, seq INTEGER NOT NULL, message_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, subscription_ids TEXT, packet_id INTEGER NOT NULL, state INTEGER NOT NULL, PRIMARY KEY (client_id, seq)) WITHOUT ROWID;
      CREATE TABLE incoming_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
      INSERT INTO meta VALUES ('format', 'culex-persistence'), ('version', '1');
      INSERT INTO sessions VALUES ('old', 4, 3600, 1700000000000);
      INSERT INTO messages VALUES (7, 'a/b', x'6869', 1, 0, NULL, 0, 1700000000000, 'pub'), (8, 'a/c', x'7468657265', 2, 0, NULL, 0, 1700000000000, NULL);
      INSERT INTO outgoing VALUES ('old', 3, 7, 1, 0, NULL, 12, 1), ('old', 4, 8, 2, 1, '[5]', 0, 0);`);
    db.close();

    const store = SqliteStore.open({ file });
    const state = await store.load();
    await store.close();
    assert.deepEqual(state.sessions[0]?.outgoing, [
      { seq: 3, messageId: 7, qos: 1, retain: false, subscriptionIds: undefined, packetId: 12, state: 'publish' },
      { seq: 4, messageId: 8, qos: 2, retain: true, subscriptionIds: [5], packetId: 0, state: 'queued' },
    ]);
    assert.deepEqual(state.messages.map((m) => [m.id, m.payload.toString()]), [[7, 'hi'], [8, 'there']]);
    const converted = new Database(file, { readonly: true });
    try {
      assert.equal((converted.prepare("SELECT value FROM meta WHERE key = 'version'").get() as { value: string }).value, '2');
      assert.equal(converted.prepare("SELECT name FROM sqlite_master WHERE name = 'outgoing'").get(), undefined, 'the old table is gone');
    } finally {
      converted.close();
    }
  } finally {
    cleanup();
  }
});

test('many commits of entries set and acknowledged keep the outgoing log short in the file, and a reopened store goes on from it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'culex.db');
    const clients = ['s1', 's2', 's3'];
    let seq = 0;
    // what the broker's sessions would hold: the three entries in flight and their messages
    const inFlight = (): number[] => [seq - 2, seq - 1, seq].filter((s) => s > 0);
    const source: OutgoingSource = {
      entries: () => inFlight().map((s) => ({ seq: s, messageId: s, qos: 1, retain: false, packetId: (s % 65_535) + 1, state: 'publish' }) satisfies StoredOutgoing),
      message: (id) => (inFlight().includes(id) ? message(id, 't', `m${id}`.padEnd(1000, '.')) : undefined),
    };
    let store = SqliteStore.open({ file });
    store.useOutgoingSource(source);
    await store.load();
    for (const clientId of clients) store.sessionSave({ clientId, protocolVersion: 4, expiryInterval: 60, disconnectedAt: 0 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2000; i++) {
        seq++;
        store.messageAdd(message(seq, 't', `m${seq}`.padEnd(1000, '.')));
        for (const clientId of clients) store.outgoingAdd(clientId, { seq, messageId: seq, qos: 1, retain: false, packetId: (seq % 65_535) + 1, state: 'publish' });
        await store.sync();
        // each acknowledged three messages later: three entries per session stay in flight
        if (seq > 3) {
          for (const clientId of clients) store.outgoingDelete(clientId, seq - 3);
          store.messageDelete(seq - 3);
        }
      }
      await store.sync();
      await store.close();
      const { ids, outgoing, logRows } = await rowsInFile(file);
      assert.deepEqual(ids, [seq - 2, seq - 1, seq]);
      assert.deepEqual(outgoing, clients.flatMap((c) => [seq - 2, seq - 1, seq].map((s) => ({ c, seq: s }))));
      // about 1 KiB per row: the log holds about the 1 MiB margin, not every commit since the start
      assert.ok(logRows < 1500, `rows in the log after ${seq} commits: ${logRows}`);
      store = SqliteStore.open({ file });
      store.useOutgoingSource(source);
      const state = await store.load();
      assert.deepEqual(state.sessions.map((s) => s.outgoing.map((e) => e.seq)), clients.map(() => [seq - 2, seq - 1, seq]));
    }
    await store.close();
  } finally {
    cleanup();
  }
});

test('a corrupt outgoing log row fails the load with the file and the row', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { file, store } = await loadedStore(dir);
    store.sessionSave({ clientId: 'c', protocolVersion: 4, expiryInterval: 60, disconnectedAt: 0 });
    store.messageAdd(message(1, 't', 'x'));
    store.outgoingAdd('c', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
    await store.sync();
    await store.close();
    const { createRequire } = await import('node:module');
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(file);
    db.prepare('UPDATE outgoing_log SET data = ?').run(Buffer.from([2, 0, 1, 0x63, 9]));
    db.close();
    const reopened = SqliteStore.open({ file });
    await assert.rejects(reopened.load(), (error: Error) => error instanceof StoreOpenError && error.message.startsWith(file) && /outgoing log row 1: an unknown op 9 at byte 4/.test(error.message));
    await reopened.close();
  } finally {
    cleanup();
  }
});

test('a persistence file of a newer format (from a later Culex) is refused with its version and the one this Culex reads', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { file, store } = await loadedStore(dir);
    await store.close();
    const { createRequire } = await import('node:module');
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(file);
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'version'").run();
    db.close();
    assert.throws(() => SqliteStore.open({ file }), (error: Error) => error instanceof StoreOpenError && error.message === `${file}: Culex persistence format version 99, this Culex reads version 2`);
  } finally {
    cleanup();
  }
});
