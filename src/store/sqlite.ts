// The durable store: one SQLite file through better-sqlite3, in WAL mode.
//
// Why SQLite: a maintained, embedded, transactional database in one file that operators can open
// with the sqlite3 shell; WAL mode lets one commit be a sequential append to the log, so a group
// commit of every change of an event-loop turn costs one write (and one fsync with FULL).
// Durability: synchronous=FULL by default, so a commit is on disk before sync() resolves and an
// acknowledged message survives a power loss or an OS crash as well as a process crash (kill -9).
// synchronous=NORMAL (option `synchronous: 'normal'`) survives a process crash only: its commits
// reach the OS at once but are fsynced at checkpoints; it is faster where fsync is slow.
//
// Deltas are queued in memory and committed together in one transaction at the end of the
// event-loop turn (setImmediate) or after `commitDelayMs`; sync() resolves after that commit.
// better-sqlite3 is a native module: it is loaded only when a SqliteStore is opened, so builds of
// Node without it still run everything else.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Properties, ProtocolVersion, QoS, RetainHandling } from '../protocol/packets.js';
import type { Store, StoredMessage, StoredOutgoing, StoredSession, StoredSessionHeader, StoredState, StoredSubscription } from './port.js';
import { schema, storeFormat, storeVersion } from './sqlite-schema.js';

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. */
  readonly file: string;
  /** 'full' (default): durable across power loss; 'normal': across a process crash only. */
  readonly synchronous?: 'full' | 'normal';
  /** Longest wait before pending changes are committed; 0 (default) = at the end of the event-loop turn. */
  readonly commitDelayMs?: number;
  /** Called when a commit fails (the waiting acknowledgements fail with it). */
  readonly onError?: (error: Error) => void;
}

/** A start-up failure that names the file and the reason. */
export class StoreOpenError extends Error {}

type Statement = BetterSqlite3.Statement;
type Op = () => void;

/**
 * A row's pending change: its new content, or null to delete it. `inDb` says whether the row is in
 * the file as of the last commit, so an add and a delete of a new row in one commit cancel out
 * (a QoS 1 message its subscriber acknowledged before the commit is never written).
 */
interface Pending<T> {
  value: T | null;
  inDb: boolean;
}

const states = ['queued', 'publish', 'pubrel'] as const;

export class SqliteStore implements Store {
  readonly durable = true;
  private readonly db: BetterSqlite3.Database;
  private readonly runBatch: (ops: readonly Op[]) => void;
  private ops: Op[] = [];
  /** Messages and outgoing entries are kept apart from `ops`, by key, so their changes can merge. */
  private messages = new Map<number, Pending<StoredMessage>>();
  private outgoing = new Map<string, Map<number, Pending<StoredOutgoing>>>();
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private waiter: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;
  private closed = false;
  private readonly s: Record<string, Statement>;

  private constructor(
    db: BetterSqlite3.Database,
    private readonly options: SqliteStoreOptions,
  ) {
    this.db = db;
    const prepare = (sql: string): Statement => db.prepare(sql);
    this.s = {
      retainedSet: prepare('INSERT OR REPLACE INTO retained (topic, payload, qos, properties, expires_at, received_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      retainedDelete: prepare('DELETE FROM retained WHERE topic = ?'),
      sessionSave: prepare('INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at) VALUES (?, ?, ?, ?)'),
      sessionDelete: prepare('DELETE FROM sessions WHERE client_id = ?'),
      subscriptionsDelete: prepare('DELETE FROM subscriptions WHERE client_id = ?'),
      outgoingDeleteAll: prepare('DELETE FROM outgoing WHERE client_id = ?'),
      incomingDeleteAll: prepare('DELETE FROM incoming_qos2 WHERE client_id = ?'),
      subscriptionSet: prepare('INSERT OR REPLACE INTO subscriptions (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      subscriptionDelete: prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
      messageAdd: prepare('INSERT OR REPLACE INTO messages (id, topic, payload, qos, retain, properties, expires_at, received_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      messageDelete: prepare('DELETE FROM messages WHERE id = ?'),
      outgoingSet: prepare('INSERT OR REPLACE INTO outgoing (client_id, seq, message_id, qos, retain, subscription_ids, packet_id, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      outgoingDelete: prepare('DELETE FROM outgoing WHERE client_id = ? AND seq = ?'),
      incomingAdd: prepare('INSERT OR IGNORE INTO incoming_qos2 (client_id, packet_id) VALUES (?, ?)'),
      incomingDelete: prepare('DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
    };
    this.runBatch = db.transaction((ops: readonly Op[]) => {
      for (let i = 0; i < ops.length; i++) ops[i]!();
    });
  }

  /**
   * Opens (or creates) the store. Throws StoreOpenError naming the file when it is not a Culex
   * store, is from a newer Culex, or is in use by another process.
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    const file = options.file;
    const Database = loadDriver();
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (error) {
      throw new StoreOpenError(`${file}: cannot create its directory: ${reason(error)}`);
    }
    let db: BetterSqlite3.Database;
    try {
      db = new Database(file, { timeout: 200 }); // a busy file is another broker's: fail fast
    } catch (error) {
      throw new StoreOpenError(`${file}: cannot open: ${reason(error)}`);
    }
    try {
      // One broker per file: the exclusive lock is taken now and held until close, so a second
      // broker on the same file fails at start-up instead of interleaving writes.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      checkOrCreateSchema(db, file);
    } catch (error) {
      db.close();
      if (error instanceof StoreOpenError) throw error;
      const code = (error as { code?: string }).code;
      if (code === 'SQLITE_BUSY') throw new StoreOpenError(`${file}: in use by another process (another broker with the same persistence file?)`);
      throw new StoreOpenError(`${file}: not a Culex persistence file (${reason(error)})`);
    }
    return new SqliteStore(db, options);
  }

  load(): Promise<StoredState> {
    const db = this.db;
    // rows whose session is gone (or messages no outgoing entry refers to) are leftovers: drop them
    db.exec(`DELETE FROM subscriptions WHERE client_id NOT IN (SELECT client_id FROM sessions);
      DELETE FROM outgoing WHERE client_id NOT IN (SELECT client_id FROM sessions);
      DELETE FROM incoming_qos2 WHERE client_id NOT IN (SELECT client_id FROM sessions);
      DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM outgoing);`);
    const sessions = new Map<string, StoredSession & { subscriptions: StoredSubscription[]; outgoing: StoredOutgoing[]; incomingQos2: number[] }>();
    for (const row of db.prepare('SELECT client_id, protocol_version, expiry_interval, disconnected_at FROM sessions').all() as SessionRow[]) {
      sessions.set(row.client_id, {
        clientId: row.client_id,
        protocolVersion: row.protocol_version as ProtocolVersion,
        expiryInterval: row.expiry_interval,
        disconnectedAt: row.disconnected_at,
        subscriptions: [],
        outgoing: [],
        incomingQos2: [],
      });
    }
    for (const row of db.prepare('SELECT * FROM subscriptions').all() as SubscriptionRow[]) {
      sessions.get(row.client_id)?.subscriptions.push({
        filter: row.filter,
        qos: row.qos as QoS,
        noLocal: row.no_local === 1,
        retainAsPublished: row.retain_as_published === 1,
        retainHandling: row.retain_handling as RetainHandling,
        subscriptionId: row.subscription_id ?? undefined,
      });
    }
    for (const row of db.prepare('SELECT * FROM outgoing ORDER BY client_id, seq').all() as OutgoingRow[]) {
      sessions.get(row.client_id)?.outgoing.push({
        seq: row.seq,
        messageId: row.message_id,
        qos: row.qos as QoS,
        retain: row.retain === 1,
        subscriptionIds: row.subscription_ids === null ? undefined : (JSON.parse(row.subscription_ids) as number[]),
        packetId: row.packet_id,
        state: states[row.state] ?? 'queued',
      });
    }
    for (const row of db.prepare('SELECT client_id, packet_id FROM incoming_qos2').all() as { client_id: string; packet_id: number }[]) {
      sessions.get(row.client_id)?.incomingQos2.push(row.packet_id);
    }
    const retained = (db.prepare('SELECT * FROM retained').all() as MessageRow[]).map((row) => messageFromRow({ ...row, id: 0, retain: 1 }));
    const messages = (db.prepare('SELECT * FROM messages').all() as MessageRow[]).map(messageFromRow);
    return Promise.resolve({ sessions: [...sessions.values()], retained, messages });
  }

  retainedSet(m: StoredMessage): void {
    this.push(() => this.s.retainedSet!.run(m.topic, m.payload, m.qos, propertiesText(m.properties), m.expiresAt, m.receivedAt, m.origin ?? null));
  }
  retainedDelete(topic: string): void {
    this.push(() => this.s.retainedDelete!.run(topic));
  }
  sessionSave(h: StoredSessionHeader): void {
    this.push(() => this.s.sessionSave!.run(h.clientId, h.protocolVersion, h.expiryInterval, h.disconnectedAt));
  }
  sessionDelete(clientId: string): void {
    this.outgoing.delete(clientId); // its pending entries go with it (the DELETE below covers the file)
    this.push(() => {
      this.s.sessionDelete!.run(clientId);
      this.s.subscriptionsDelete!.run(clientId);
      this.s.outgoingDeleteAll!.run(clientId);
      this.s.incomingDeleteAll!.run(clientId);
    });
  }
  subscriptionSet(clientId: string, sub: StoredSubscription): void {
    this.push(() => this.s.subscriptionSet!.run(clientId, sub.filter, sub.qos, sub.noLocal ? 1 : 0, sub.retainAsPublished ? 1 : 0, sub.retainHandling, sub.subscriptionId ?? null));
  }
  subscriptionDelete(clientId: string, filter: string): void {
    this.push(() => this.s.subscriptionDelete!.run(clientId, filter));
  }
  messageAdd(m: StoredMessage): void {
    // added at 0 → 1 references, so not in the file unless a delete of this commit precedes it
    this.messages.set(m.id, { value: m, inDb: this.messages.get(m.id)?.inDb ?? false });
    this.schedule();
  }
  messageDelete(messageId: number): void {
    const pending = this.messages.get(messageId);
    if (pending !== undefined && !pending.inDb) this.messages.delete(messageId);
    else this.messages.set(messageId, { value: null, inDb: true });
    this.schedule();
  }
  outgoingAdd(clientId: string, e: StoredOutgoing): void {
    const rows = this.outgoingOf(clientId);
    rows.set(e.seq, { value: e, inDb: rows.get(e.seq)?.inDb ?? false });
    this.schedule();
  }
  outgoingUpdate(clientId: string, e: StoredOutgoing): void {
    const rows = this.outgoingOf(clientId);
    rows.set(e.seq, { value: e, inDb: rows.get(e.seq)?.inDb ?? true });
    this.schedule();
  }
  outgoingDelete(clientId: string, seq: number): void {
    const rows = this.outgoingOf(clientId);
    const pending = rows.get(seq);
    if (pending !== undefined && !pending.inDb) rows.delete(seq);
    else rows.set(seq, { value: null, inDb: true });
    this.schedule();
  }
  incomingQos2Add(clientId: string, packetId: number): void {
    this.push(() => this.s.incomingAdd!.run(clientId, packetId));
  }
  incomingQos2Delete(clientId: string, packetId: number): void {
    this.push(() => this.s.incomingDelete!.run(clientId, packetId));
  }

  sync(): Promise<void> | undefined {
    if (this.timer === undefined) return undefined; // nothing recorded since the last commit
    if (this.waiter === undefined) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.waiter = { promise, resolve, reject };
    }
    return this.waiter.promise;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.commit();
    this.closed = true;
    this.db.close();
    return Promise.resolve();
  }

  /** Size of the database file in bytes (page count × page size), for $SYS and metrics. */
  get sizeBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  private outgoingOf(clientId: string): Map<number, Pending<StoredOutgoing>> {
    let rows = this.outgoing.get(clientId);
    if (rows === undefined) this.outgoing.set(clientId, (rows = new Map()));
    return rows;
  }

  private push(op: Op): void {
    if (this.closed) return;
    this.ops.push(op);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    const delay = this.options.commitDelayMs ?? 0;
    this.timer = delay > 0 ? setTimeout(() => this.commit(), delay) : setImmediate(() => this.commit());
  }

  private writeMessages(messages: Map<number, Pending<StoredMessage>>): void {
    for (const [id, { value: m }] of messages) {
      if (m === null) this.s.messageDelete!.run(id);
      else this.s.messageAdd!.run(m.id, m.topic, m.payload, m.qos, m.retain ? 1 : 0, propertiesText(m.properties), m.expiresAt, m.receivedAt, m.origin ?? null);
    }
  }

  private writeOutgoing(outgoing: Map<string, Map<number, Pending<StoredOutgoing>>>): void {
    for (const [clientId, rows] of outgoing) {
      for (const [seq, { value: e }] of rows) {
        if (e === null) this.s.outgoingDelete!.run(clientId, seq);
        else {
          const ids = e.subscriptionIds === undefined ? null : JSON.stringify(e.subscriptionIds);
          this.s.outgoingSet!.run(clientId, e.seq, e.messageId, e.qos, e.retain ? 1 : 0, ids, e.packetId, states.indexOf(e.state));
        }
      }
    }
  }

  /** One transaction for every pending change; then the acknowledgements waiting on it go out. */
  private commit(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    const ops = this.ops;
    const messages = this.messages;
    const outgoing = this.outgoing;
    const waiter = this.waiter;
    this.ops = [];
    this.messages = new Map();
    this.outgoing = new Map();
    this.waiter = undefined;
    if (messages.size > 0) ops.push(() => this.writeMessages(messages));
    if (outgoing.size > 0) ops.push(() => this.writeOutgoing(outgoing));
    if (ops.length === 0) {
      waiter?.resolve(); // everything recorded cancelled out
      return;
    }
    try {
      this.runBatch(ops);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.options.onError?.(failure);
      waiter?.reject(failure);
      return;
    }
    waiter?.resolve();
  }
}

interface SessionRow {
  client_id: string;
  protocol_version: number;
  expiry_interval: number;
  disconnected_at: number;
}
interface SubscriptionRow {
  client_id: string;
  filter: string;
  qos: number;
  no_local: number;
  retain_as_published: number;
  retain_handling: number;
  subscription_id: number | null;
}
interface OutgoingRow {
  client_id: string;
  seq: number;
  message_id: number;
  qos: number;
  retain: number;
  subscription_ids: string | null;
  packet_id: number;
  state: number;
}
interface MessageRow {
  id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  properties: string | null;
  expires_at: number;
  received_at: number;
  origin: string | null;
}

function messageFromRow(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    topic: row.topic,
    payload: row.payload,
    qos: row.qos as QoS,
    retain: row.retain === 1,
    properties: row.properties === null ? undefined : parseProperties(row.properties),
    expiresAt: row.expires_at,
    receivedAt: row.received_at,
    origin: row.origin ?? undefined,
  };
}

/** Properties as JSON; Buffers (correlation data) become {"type":"Buffer","data":[...]} and back. */
function propertiesText(properties: Properties | undefined): string | null {
  return properties === undefined ? null : JSON.stringify(properties);
}

function parseProperties(text: string): Properties {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return Buffer.from((value as { data: number[] }).data);
    }
    return value;
  }) as Properties;
}

function checkOrCreateSchema(db: BetterSqlite3.Database, file: string): void {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  if (tables.length === 0) {
    db.exec(schema);
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)').run('format', storeFormat, 'version', String(storeVersion));
    return;
  }
  const rows = tables.some((t) => t.name === 'meta') ? (db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]) : [];
  const meta = new Map(rows.map((row) => [row.key, row.value]));
  if (meta.get('format') !== storeFormat) throw new StoreOpenError(`${file}: not a Culex persistence file (an SQLite database of something else)`);
  const version = Number(meta.get('version'));
  if (version !== storeVersion) throw new StoreOpenError(`${file}: Culex persistence format version ${meta.get('version')}, this Culex reads version ${storeVersion}`);
}

function loadDriver(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (error) {
    throw new StoreOpenError(`persistence needs the better-sqlite3 module, which could not be loaded: ${reason(error)}`);
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
