// The outgoing log of the SQLite store (src/store/outgoing-log.ts, its rows in outgoing-log-rows.ts) on its own: its rows, applied to
// a map standing for the table (insert the row, delete the rows before the front), must replay to
// exactly the entries recorded and the messages they refer to, after every commit and across a
// restart, while the bytes kept stay bounded by what is live. The store's use of it on a real file
// is in sqlite.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutgoingLog } from '../../src/store/outgoing-log.js';
import { replay } from '../../src/store/outgoing-log-rows.js';
import type { OutgoingSource, StoredMessage, StoredOutgoing } from '../../src/store/port.js';

/** The table: row number → bytes (copied, as SQLite would). */
type Table = Map<number, Buffer>;

function commitInto(log: OutgoingLog, table: Table): void {
  const { row, data, trimBelow } = log.commit();
  if (row !== undefined) {
    assert.ok(!table.has(row), `row ${row} written twice`);
    table.set(row, Buffer.from(data!));
  }
  if (trimBelow !== undefined) for (const key of [...table.keys()]) if (key < trimBelow) table.delete(key);
}

function tableRows(table: Table): { row: number; data: Buffer }[] {
  return [...table.entries()].sort((a, b) => a[0] - b[0]).map(([row, data]) => ({ row, data }));
}

/** The entries replayed; every message an entry refers to must be in the log. */
function replayTable(table: Table): Map<string, Map<number, StoredOutgoing>> {
  const { sessions, messages } = replay(tableRows(table));
  for (const [clientId, entries] of sessions) {
    if (entries.size === 0) sessions.delete(clientId);
    for (const entry of entries.values()) assert.ok(messages.has(entry.messageId), `message ${entry.messageId} of ${clientId}'s entry ${entry.seq} is in the log`);
  }
  return sessions;
}

const message = (id: number, payload = `m${id}`): StoredMessage => ({ id, topic: 't', payload: Buffer.from(payload), qos: 1, retain: false, expiresAt: 0, receivedAt: 1_700_000_000_000 });

function modelWithoutEmpty(model: Map<string, Map<number, StoredOutgoing>>): Map<string, Map<number, StoredOutgoing>> {
  return new Map([...model].filter(([, entries]) => entries.size > 0));
}

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test('an entry round-trips with every field: seq and message ids up to 2^53, subscription ids, each state, QoS and retain', () => {
  const entries: StoredOutgoing[] = [
    { seq: 1, messageId: 1, qos: 1, retain: false, subscriptionIds: undefined, packetId: 1, state: 'publish' },
    { seq: 2 ** 31, messageId: 2 ** 32 + 5, qos: 2, retain: true, subscriptionIds: [1, 268_435_455], packetId: 65_535, state: 'pubrel' },
    { seq: Number.MAX_SAFE_INTEGER, messageId: Number.MAX_SAFE_INTEGER - 1, qos: 0, retain: false, subscriptionIds: [], packetId: 0, state: 'queued' },
  ];
  const log = new OutgoingLog();
  for (const entry of entries) log.addMessage(message(entry.messageId));
  for (const entry of entries) log.set('ü-client/ε', entry, true);
  const table: Table = new Map();
  commitInto(log, table);
  assert.deepEqual([...replayTable(table).get('ü-client/ε')!.values()], entries);
});

test('a message round-trips with every field: properties with binary correlation data, origin, expiry, retain, a 1 MiB payload', () => {
  const messages: StoredMessage[] = [
    { id: 9, topic: 'sensor/ü', payload: Buffer.alloc(1 << 20, 0xab), qos: 2, retain: true, properties: { correlationData: Buffer.from([0, 255, 7]), userProperties: [['k', 'v']], contentType: 'text/plain', messageExpiryInterval: 60 }, expiresAt: 1_900_000_000_000, receivedAt: 1_800_000_000_000, origin: 'publisher-1' },
    { id: 2 ** 40, topic: '', payload: Buffer.alloc(0), qos: 1, retain: false, properties: undefined, expiresAt: 0, receivedAt: 0, origin: undefined },
  ];
  const log = new OutgoingLog();
  for (const m of messages) {
    log.addMessage(m);
    log.set('c', { seq: m.id, messageId: m.id, qos: 1, retain: false, packetId: 0, state: 'queued' }, true);
  }
  const table: Table = new Map();
  commitInto(log, table);
  assert.deepEqual([...replay(tableRows(table)).messages.values()], messages);
});

test('random sets, updates, deletes and session drops over many commits replay to exactly the live entries, after every commit and across restarts; the rows kept stay bounded', () => {
  const next = random(7);
  const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
  const model = new Map<string, Map<number, StoredOutgoing>>();
  const seqs = new Map<string, number>(clients.map((c) => [c, 0]));
  const table: Table = new Map();
  /** Every message made, by id: what the broker would hold. */
  const bodies = new Map<number, StoredMessage>();
  // the broker's side, as Persistence gives it: the entries as they stand, the messages referred to
  const source: OutgoingSource = { entries: (clientId) => model.get(clientId)?.values() ?? [], message: (id) => (refs.has(id) ? bodies.get(id) : undefined) };
  let log = new OutgoingLog();
  log.useSource(source);
  let maxBytesKept = 0;
  /** References to each message, as Persistence counts them (messageAdd at 0 → 1, messageDelete at 1 → 0). */
  const refs = new Map<number, number>();
  const release = (id: number): void => {
    const left = refs.get(id)! - 1;
    if (left > 0) refs.set(id, left);
    else {
      refs.delete(id);
      log.deleteMessage(id);
    }
  };
  for (let commit = 0; commit < 2000; commit++) {
    const changes = Math.floor(next() * 40);
    for (let k = 0; k < changes; k++) {
      const clientId = clients[Math.floor(next() * clients.length)]!;
      let entries = model.get(clientId);
      if (entries === undefined) model.set(clientId, (entries = new Map()));
      const roll = next();
      if (roll < 0.45) {
        const seq = seqs.get(clientId)! + 1 + Math.floor(next() * 2);
        seqs.set(clientId, seq);
        // a new message, or one another entry refers to already
        const shared = next() < 0.3 && refs.size > 0 ? [...refs.keys()][Math.floor(next() * refs.size)]! : undefined;
        const messageId = shared ?? commit * 100 + k;
        if (shared === undefined) {
          bodies.set(messageId, message(messageId, 'x'.repeat(Math.floor(next() * 300))));
          log.addMessage(bodies.get(messageId)!);
        }
        refs.set(messageId, (refs.get(messageId) ?? 0) + 1);
        const entry: StoredOutgoing = { seq, messageId, qos: 1, retain: next() < 0.1, subscriptionIds: next() < 0.1 ? [k + 1] : undefined, packetId: 0, state: 'queued' };
        entries.set(seq, entry);
        log.set(clientId, entry, true);
      } else if (roll < 0.6 && entries.size > 0) {
        const [seq, entry] = [...entries][Math.floor(next() * entries.size)]!;
        const updated: StoredOutgoing = { ...entry, packetId: (seq % 65_535) + 1, state: entry.state === 'queued' ? 'publish' : 'pubrel' };
        entries.set(seq, updated);
        log.set(clientId, updated, false);
      } else if (roll < 0.995 && entries.size > 0) {
        // mostly the oldest (acknowledgements in order), sometimes any
        const keys = [...entries.keys()];
        const seq = next() < 0.8 ? keys[0]! : keys[Math.floor(next() * keys.length)]!;
        release(entries.get(seq)!.messageId);
        entries.delete(seq);
        log.delete(clientId, seq);
      } else if (roll >= 0.995) {
        for (const entry of entries.values()) release(entry.messageId);
        model.delete(clientId);
        log.drop(clientId);
      }
    }
    commitInto(log, table);
    assert.deepEqual(replayTable(table), modelWithoutEmpty(model), `after commit ${commit}`);
    const liveEntries = [...model.values()].reduce((n, entries) => n + entries.size, 0);
    const kept = [...table.values()].reduce((n, data) => n + data.length, 0);
    maxBytesKept = Math.max(maxBytesKept, kept - 2 * (12 * liveEntries + 320 * refs.size));
    if (commit % 500 === 499) {
      // a restart: the log goes on from the rows read back, with the messages still referred to
      const replayed = replay(tableRows(table));
      log = new OutgoingLog(replayed, [...refs.keys()].map((id) => replayed.messages.get(id)!));
      log.useSource(source);
    }
  }
  // bounded: the margin (1 MiB) plus what one commit and its rewrites may add
  assert.ok(maxBytesKept < (1 << 20) + (256 << 10), `bytes kept beyond twice the live bytes: ${maxBytesKept}`);
});

test('a commit in which every entry went (acknowledged before it) writes no row and frees every row before it', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  log.addMessage(message(1));
  log.set('a', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' }, true);
  commitInto(log, table);
  assert.equal(table.size, 1);
  log.delete('a', 1);
  log.deleteMessage(1);
  log.addMessage(message(2));
  log.set('a', { seq: 2, messageId: 2, qos: 1, retain: false, packetId: 2, state: 'publish' }, true);
  log.delete('a', 2);
  log.deleteMessage(2);
  commitInto(log, table);
  assert.equal(table.size, 0);
  assert.deepEqual(replayTable(table), new Map());
});

test('a session dropped and started again under its id in one commit keeps only its new entries', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  log.addMessage(message(1));
  log.set('a', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' }, true);
  log.set('b', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' }, true);
  commitInto(log, table);
  log.drop('a');
  log.addMessage(message(2));
  log.set('a', { seq: 5, messageId: 2, qos: 1, retain: false, packetId: 0, state: 'queued' }, true);
  commitInto(log, table);
  const replayed = replayTable(table);
  assert.deepEqual([...replayed.get('a')!.values()].map((e) => e.messageId), [2]);
  assert.deepEqual([...replayed.get('b')!.values()].map((e) => e.messageId), [1]);
});

test('a slow session and its old message do not keep the log growing: once the bytes outnumber twice the live bytes plus the margin, what is at the front is written again and the rows before it freed', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  const live = { slow: new Map<number, StoredOutgoing>(), fast: new Map<number, StoredOutgoing>() };
  const bodies = new Map<number, StoredMessage>([[1, message(1, 'old')]]);
  log.useSource({ entries: (clientId) => live[clientId as 'slow' | 'fast'].values(), message: (id) => bodies.get(id) });
  // the slow session holds one old entry and its message; the fast one churns through 40,000
  live.slow.set(1, { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
  log.addMessage(message(1, 'old'));
  log.set('slow', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' }, true);
  for (let seq = 1; seq <= 40_000; seq++) {
    bodies.set(seq + 1, message(seq + 1, 'p'.repeat(64)));
    log.addMessage(bodies.get(seq + 1)!);
    const entry: StoredOutgoing = { seq, messageId: seq + 1, qos: 1, retain: false, packetId: (seq % 65_535) + 1, state: 'publish' };
    live.fast.set(seq, entry);
    log.set('fast', entry, true);
    if (seq > 5) {
      live.fast.delete(seq - 5);
      log.delete('fast', seq - 5);
      bodies.delete(seq - 4);
      log.deleteMessage(seq - 4);
    }
    commitInto(log, table);
  }
  const bytes = [...table.values()].reduce((n, data) => n + data.length, 0);
  assert.ok(bytes < (1 << 20) + (64 << 10), `bytes kept: ${bytes}`);
  assert.ok(table.size < 40_000 / 2, `rows kept: ${table.size}`);
  assert.ok(!table.has(1), 'the first row is freed');
  assert.equal(replay(tableRows(table)).messages.get(1)?.payload.toString(), 'old');
  const replayed = replayTable(table);
  assert.deepEqual([...replayed.get('slow')!.keys()], [1]);
  assert.deepEqual([...replayed.get('fast')!.keys()], [39_996, 39_997, 39_998, 39_999, 40_000]);
});

test('a row that is not a log row fails the replay with its number and the byte', () => {
  const log = new OutgoingLog();
  log.addMessage(message(1));
  log.set('a', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' }, true);
  const good = Buffer.from(log.commit().data!);
  assert.throws(() => replay([{ row: 1, data: good }, { row: 2, data: Buffer.from([9]) }]), /outgoing log row 2: an unknown op 9 at byte 0/);
  assert.throws(() => replay([{ row: 3, data: good.subarray(0, good.length - 1) }]), /outgoing log row 3: the row ends inside an op/);
  assert.throws(() => replay([{ row: 4, data: Buffer.from([5, 1]) }]), /outgoing log row 4: an op before any session/);
});

test('a session whose count says it holds nothing is checked against the broker\'s entries before its rows are let go', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  const held: StoredOutgoing = { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' };
  const fast = new Map<number, StoredOutgoing>();
  const bodies = new Map<number, StoredMessage>([[1, message(1)]]);
  log.useSource({ entries: (clientId) => (clientId === 'a' ? [held] : fast.values()), message: (id) => bodies.get(id) });
  log.addMessage(message(1));
  log.set('a', held, true);
  commitInto(log, table);
  log.delete('a', 99); // a delete of an entry the store never had: the count goes wrong
  commitInto(log, table);
  // another session's traffic, 64 KiB messages, moves the log on past the margin
  for (let seq = 1; seq <= 60; seq++) {
    bodies.set(seq + 1, message(seq + 1, 'f'.repeat(65_536)));
    log.addMessage(bodies.get(seq + 1)!);
    const entry: StoredOutgoing = { seq, messageId: seq + 1, qos: 1, retain: false, packetId: seq, state: 'publish' };
    fast.set(seq, entry);
    log.set('fast', entry, true);
    if (seq > 2) {
      fast.delete(seq - 2);
      log.delete('fast', seq - 2);
      bodies.delete(seq - 1);
      log.deleteMessage(seq - 1);
    }
    commitInto(log, table);
  }
  assert.ok(!table.has(1), 'the log moved on');
  assert.deepEqual([...replayTable(table).get('a')!.values()], [{ ...held, subscriptionIds: undefined }]);
});
