// The writes of the SQLite store as data: each change is a tuple [statement, ...parameters], so a
// commit can be built on the broker's thread and run on the writer thread (sqlite-writer.ts), or on
// the broker's thread itself before the writer starts. One module holds the SQL and the connection
// settings, so both threads write exactly the same way.

import type BetterSqlite3 from 'better-sqlite3';

const sql = {
  retainedSet: 'INSERT OR REPLACE INTO retained (topic, payload, qos, properties, expires_at, received_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?)',
  retainedDelete: 'DELETE FROM retained WHERE topic = ?',
  sessionSave: 'INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at) VALUES (?, ?, ?, ?)',
  sessionDelete: 'DELETE FROM sessions WHERE client_id = ?',
  subscriptionsDelete: 'DELETE FROM subscriptions WHERE client_id = ?',
  incomingDeleteAll: 'DELETE FROM incoming_qos2 WHERE client_id = ?',
  subscriptionSet: 'INSERT OR REPLACE INTO subscriptions (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
  subscriptionDelete: 'DELETE FROM subscriptions WHERE client_id = ? AND filter = ?',
  outgoingLogAppend: 'INSERT INTO outgoing_log (row, data) VALUES (?, ?)',
  outgoingLogTrim: 'DELETE FROM outgoing_log WHERE row < ?',
  incomingAdd: 'INSERT OR IGNORE INTO incoming_qos2 (client_id, packet_id) VALUES (?, ?)',
  incomingDelete: 'DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?',
} as const;

export type WriteName = keyof typeof sql;
/** One change: the statement and its parameters (strings, numbers, null, Buffers). */
export type Write = readonly [WriteName, ...unknown[]];

const names = Object.keys(sql) as WriteName[];
/** Each statement's number in a batch, and how many parameters follow it. */
const numberOf = new Map(names.map((name, i) => [name, i]));
const arity = names.map((name) => sql[name].split('?').length - 1);

/**
 * A commit's changes as one flat array: a statement's number, then its parameters, then the next.
 * Flat, because a batch crosses to the writer thread by structured clone, and one array of
 * primitives clones much faster than thousands of small arrays (npm run bench:store, 100
 * persistent subscribers, CPU per delivery: 15.5 µs with one array per change, 10.9–12.8 µs flat,
 * 9.0–9.3 µs with the commits on the broker's own thread).
 */
export type WriteBatch = unknown[];

/** Appends a change to a batch (for the occasional change; hot paths push their fields directly). */
export function appendWrite(batch: WriteBatch, write: Write): void {
  batch.push(numberOf.get(write[0]));
  for (let i = 1; i < write.length; i++) batch.push(write[i]);
}

/** The statement numbers hot paths push directly. */
export const writeNumber = {
  outgoingLogAppend: numberOf.get('outgoingLogAppend')!,
  outgoingLogTrim: numberOf.get('outgoingLogTrim')!,
} as const;

export type Synchronous = 'full' | 'normal';

/**
 * Sets a connection up as the store uses it. One broker per file: the exclusive lock is taken now
 * and held until close, so a second broker on the same file fails at once instead of interleaving.
 */
export function configureConnection(db: BetterSqlite3.Database, synchronous: Synchronous): void {
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.exec('BEGIN EXCLUSIVE; COMMIT');
}

/** Size of the database file in bytes (page count × page size). */
export function databaseBytes(db: BetterSqlite3.Database): number {
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
}

/** Prepares every write once; returns a function that applies a batch in one transaction. */
export function batchWriter(db: BetterSqlite3.Database): (batch: WriteBatch) => void {
  const statements = names.map((name) => db.prepare(sql[name]));
  const parameters: unknown[][] = arity.map((n) => new Array<unknown>(n));
  return db.transaction((batch: WriteBatch) => {
    let i = 0;
    while (i < batch.length) {
      const number = batch[i] as number;
      const statement = statements[number];
      if (statement === undefined) throw new Error(`unknown write ${String(number)} at ${i}`);
      const values = parameters[number]!;
      for (let j = 0; j < values.length; j++) values[j] = asParameter(batch[i + 1 + j]);
      statement.run(values);
      i += 1 + values.length;
    }
  });
}

/** A Buffer sent to another thread arrives as a plain Uint8Array: bind it as a BLOB all the same. */
function asParameter(value: unknown): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
}

/**
 * Copies every Buffer of a batch into one new buffer of exactly their total size, and returns it
 * (undefined when the batch holds none) so that it can be transferred to the writer thread.
 * Why: a payload is a view into the socket chunk it was read with (the parser does not copy), and
 * postMessage clones a view's whole ArrayBuffer: 23 payloads of 16 bytes from one 64 KiB chunk
 * crossed as 64 KiB, at 73 µs per batch against 20 µs for compact copies (a MessageChannel
 * round trip measured here). One buffer, transferred, crosses without any copy at all.
 */
export function compactBuffers(batch: WriteBatch): ArrayBuffer | undefined {
  let total = 0;
  for (let i = 0; i < batch.length; i++) {
    const value = batch[i];
    if (value instanceof Uint8Array) total += value.byteLength;
  }
  if (total === 0) return undefined;
  const arena = Buffer.allocUnsafeSlow(total); // its own ArrayBuffer, never the shared pool's
  let offset = 0;
  for (let i = 0; i < batch.length; i++) {
    const value = batch[i];
    if (!(value instanceof Uint8Array)) continue;
    arena.set(value, offset);
    batch[i] = arena.subarray(offset, offset + value.byteLength);
    offset += value.byteLength;
  }
  return arena.buffer as ArrayBuffer;
}
