// The outgoing log of the SQLite store (src/store/outgoing-log.ts) on its own: its rows, applied to
// a map standing for the table (insert the row, delete the rows before the front), must replay to
// exactly the entries recorded, after every commit and across a restart, while the rows kept stay
// bounded by the live entries. The store's use of it on a real file is in sqlite.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutgoingLog, replay, snapshotRow } from '../../src/store/outgoing-log.js';
import type { StoredOutgoing } from '../../src/store/port.js';

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

function replayTable(table: Table): Map<string, Map<number, StoredOutgoing>> {
  const rows = [...table.entries()].sort((a, b) => a[0] - b[0]).map(([row, data]) => ({ row, data }));
  const sessions = replay(rows).sessions;
  for (const [clientId, entries] of sessions) if (entries.size === 0) sessions.delete(clientId);
  return sessions;
}

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
  for (const entry of entries) log.set('ü-client/ε', entry);
  const table: Table = new Map();
  commitInto(log, table);
  assert.deepEqual([...replayTable(table).get('ü-client/ε')!.values()], entries);
});

test('random sets, updates, deletes and session drops over many commits replay to exactly the live entries, after every commit and across restarts; the rows kept stay bounded', () => {
  const next = random(7);
  const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
  const model = new Map<string, Map<number, StoredOutgoing>>();
  const seqs = new Map<string, number>(clients.map((c) => [c, 0]));
  const table: Table = new Map();
  let log = new OutgoingLog();
  let maxOpsKept = 0;
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
        const entry: StoredOutgoing = { seq, messageId: commit * 100 + k, qos: 1, retain: next() < 0.1, subscriptionIds: next() < 0.1 ? [k + 1] : undefined, packetId: 0, state: 'queued' };
        entries.set(seq, entry);
        log.set(clientId, entry);
      } else if (roll < 0.6 && entries.size > 0) {
        const [seq, entry] = [...entries][Math.floor(next() * entries.size)]!;
        const updated: StoredOutgoing = { ...entry, packetId: (seq % 65_535) + 1, state: entry.state === 'queued' ? 'publish' : 'pubrel' };
        entries.set(seq, updated);
        log.set(clientId, updated);
      } else if (roll < 0.995 && entries.size > 0) {
        // mostly the oldest (acknowledgements in order), sometimes any
        const keys = [...entries.keys()];
        const seq = next() < 0.8 ? keys[0]! : keys[Math.floor(next() * keys.length)]!;
        entries.delete(seq);
        log.delete(clientId, seq);
      } else if (roll >= 0.995) {
        model.delete(clientId);
        log.drop(clientId);
      }
    }
    commitInto(log, table);
    assert.deepEqual(replayTable(table), modelWithoutEmpty(model), `after commit ${commit}`);
    const live = [...model.values()].reduce((n, entries) => n + entries.size, 0);
    const kept = replay([...table.entries()].sort((a, b) => a[0] - b[0]).map(([row, data]) => ({ row, data }))).rows.reduce((n, [, ops]) => n + ops, 0);
    maxOpsKept = Math.max(maxOpsKept, kept - 2 * live);
    if (commit % 500 === 499) {
      // a restart: the log goes on from the rows read back
      const rows = [...table.entries()].sort((a, b) => a[0] - b[0]).map(([row, data]) => ({ row, data }));
      log = new OutgoingLog(replay(rows));
    }
  }
  // bounded: the margin (4096 ops) plus what one commit and its snapshots may add
  assert.ok(maxOpsKept < 4096 + 2000, `ops kept beyond twice the live entries: ${maxOpsKept}`);
});

test('a commit in which every entry went (acknowledged before it) writes no row and frees every row before it', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  log.set('a', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
  commitInto(log, table);
  assert.equal(table.size, 1);
  log.delete('a', 1);
  log.set('a', { seq: 2, messageId: 2, qos: 1, retain: false, packetId: 2, state: 'publish' });
  log.delete('a', 2);
  commitInto(log, table);
  assert.equal(table.size, 0);
  assert.deepEqual(replayTable(table), new Map());
});

test('a session dropped and started again under its id in one commit keeps only its new entries', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  log.set('a', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
  log.set('b', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
  commitInto(log, table);
  log.drop('a');
  log.set('a', { seq: 5, messageId: 2, qos: 1, retain: false, packetId: 0, state: 'queued' });
  commitInto(log, table);
  const replayed = replayTable(table);
  assert.deepEqual([...replayed.get('a')!.values()].map((e) => e.messageId), [2]);
  assert.deepEqual([...replayed.get('b')!.values()].map((e) => e.messageId), [1]);
});

test('a slow session does not keep the log growing: once the ops outnumber twice the live entries plus the margin, the front sessions are snapshotted and the rows before them freed', () => {
  const log = new OutgoingLog();
  const table: Table = new Map();
  // the slow session holds one old entry; the fast one churns through 20,000 entries
  log.set('slow', { seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' });
  for (let seq = 1; seq <= 20_000; seq++) {
    log.set('fast', { seq, messageId: seq + 1, qos: 1, retain: false, packetId: (seq % 65_535) + 1, state: 'publish' });
    if (seq > 5) log.delete('fast', seq - 5);
    commitInto(log, table);
  }
  const rows = [...table.entries()].sort((a, b) => a[0] - b[0]).map(([row, data]) => ({ row, data }));
  const ops = replay(rows).rows.reduce((n, [, count]) => n + count, 0);
  assert.ok(ops < 4096 + 100, `ops kept: ${ops}`);
  assert.ok(table.size < 4096, `rows kept: ${table.size}`);
  const replayed = replayTable(table);
  assert.deepEqual([...replayed.get('slow')!.keys()], [1]);
  assert.deepEqual([...replayed.get('fast')!.keys()], [19_996, 19_997, 19_998, 19_999, 20_000]);
});

test('a row that is not a log row fails the replay with its number and the byte', () => {
  const good = snapshotRow(new Map([['a', [{ seq: 1, messageId: 1, qos: 1, retain: false, packetId: 1, state: 'publish' } satisfies StoredOutgoing]]]));
  assert.throws(() => replay([{ row: 1, data: good }, { row: 2, data: Buffer.from([9]) }]), /outgoing log row 2: an unknown op 9 at byte 0/);
  assert.throws(() => replay([{ row: 3, data: good.subarray(0, good.length - 1) }]), /outgoing log row 3: the row ends inside an op/);
  assert.throws(() => replay([{ row: 4, data: Buffer.from([4, 1]) }]), /outgoing log row 4: an op before any session/);
});
