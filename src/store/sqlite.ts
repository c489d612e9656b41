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
// The sessions' outgoing entries and the messages they refer to go into the commit as one row of
// the outgoing log (outgoing-log.ts), whatever their number; the rest as a row per change.
// load() reads the file on the broker's thread; then the file passes to a writer thread
// (sqlite-writer.ts) that runs the commits, one at a time, so that the fsync of a commit never
// stalls the broker; the changes recorded meanwhile make up the next commit.
// better-sqlite3 is a native module: it is loaded only when a SqliteStore is opened, so builds of
// Node without it still run everything else.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { Properties } from '../protocol/packets.js';
import type { OutgoingSource, Store, StoredMessage, StoredOutgoing, StoredSessionHeader, StoredState, StoredSubscription } from './port.js';
import { readState } from './sqlite-read.js';
import { schema, storeFormat, storeVersion } from './sqlite-schema.js';
import { migrate } from './sqlite-migrate.js';
import { OutgoingLog } from './outgoing-log.js';
import type { WriterData, WriterReply, WriterRequest } from './sqlite-writer.js';
import { appendWrite, batchWriter, compactBuffers, configureConnection, databaseBytes, writeNumber, type Write, type WriteBatch } from './sqlite-writes.js';
import { deferred, type Deferred } from './deferred.js';

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


export class SqliteStore implements Store {
  readonly durable = true;
  /** The broker thread's connection: open until load() hands the file to the writer thread. */
  private db: BetterSqlite3.Database | undefined;
  private writeHere: ((batch: WriteBatch) => void) | undefined;
  private writer: Worker | undefined;
  private writes: WriteBatch = [];
  /** The sessions' outgoing entries and their messages, written as a log of one row per commit (outgoing-log.ts). */
  private outgoing = new OutgoingLog();
  private source: OutgoingSource | undefined;
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** Settles with the commit of the changes recorded since the last one was sent. */
  private waiter: Deferred | undefined;
  /** The commit on its way to disk in the writer thread, if any (one at a time). */
  private inFlight: { waiter: Deferred | undefined } | undefined;
  private failure: Error | undefined;
  private closing: Deferred | undefined;
  private closeSent = false;
  private closed = false;
  private bytes = 0;

  private constructor(
    db: BetterSqlite3.Database,
    private readonly options: SqliteStoreOptions,
  ) {
    this.db = db;
    this.writeHere = batchWriter(db);
    this.bytes = databaseBytes(db);
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
      configureConnection(db, options.synchronous ?? 'full');
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

  async load(): Promise<StoredState> {
    const db = this.db;
    if (db === undefined) throw new Error('load() is called once, before any change');
    let read: ReturnType<typeof readState>;
    try {
      read = readState(db);
    } catch (error) {
      throw new StoreOpenError(`${this.options.file}: cannot read it back: ${reason(error)}`);
    }
    const { state, log } = read;
    this.outgoing = new OutgoingLog(log, state.messages);
    if (this.source !== undefined) this.outgoing.useSource(this.source);
    const recorded = new Set(state.sessions.map((session) => session.clientId));
    for (const clientId of log.sessions.keys()) if (!recorded.has(clientId)) this.outgoing.drop(clientId); // a leftover
    await this.startWriter();
    return state;
  }

  /** Hands the file to the writer thread: this thread's connection closes, the writer's opens. */
  private async startWriter(): Promise<void> {
    if (this.db === undefined || this.closed) return;
    this.commitHere(); // anything recorded before load() (nothing, by the port's contract)
    this.db.close();
    this.db = undefined;
    this.writeHere = undefined;
    const data: WriterData = { file: this.options.file, synchronous: this.options.synchronous ?? 'full' };
    const writer = startWriterThread(data);
    this.writer = writer;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => reject(new StoreOpenError(`${this.options.file}: the writer thread could not open it: ${error.message}`));
      writer.once('error', fail);
      writer.once('message', (reply: WriterReply) => {
        writer.off('error', fail);
        if (reply.type === 'ready') this.bytes = reply.bytes;
        resolve();
      });
    });
    writer.on('message', (reply: WriterReply) => this.onReply(reply));
    writer.on('error', (error: Error) => this.fail(error));
    writer.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the writer thread stopped (exit code ${code})`));
    });
  }

  useOutgoingSource(source: OutgoingSource): void {
    this.source = source;
    this.outgoing.useSource(source);
  }

  retainedSet(m: StoredMessage): void {
    this.push(['retainedSet', m.topic, m.payload, m.qos, propertiesText(m.properties), m.expiresAt, m.receivedAt, m.origin ?? null]);
  }
  retainedDelete(topic: string): void {
    this.push(['retainedDelete', topic]);
  }
  sessionSave(h: StoredSessionHeader): void {
    this.push(['sessionSave', h.clientId, h.protocolVersion, h.expiryInterval, h.disconnectedAt]);
  }
  sessionDelete(clientId: string): void {
    this.outgoing.drop(clientId); // its entries go with it; a session by that id starts anew
    this.push(['sessionDelete', clientId]);
    this.push(['subscriptionsDelete', clientId]);
    this.push(['incomingDeleteAll', clientId]);
  }
  subscriptionSet(clientId: string, sub: StoredSubscription): void {
    this.push(['subscriptionSet', clientId, sub.filter, sub.qos, sub.noLocal ? 1 : 0, sub.retainAsPublished ? 1 : 0, sub.retainHandling, sub.subscriptionId ?? null]);
  }
  subscriptionDelete(clientId: string, filter: string): void {
    this.push(['subscriptionDelete', clientId, filter]);
  }
  messageAdd(m: StoredMessage): void {
    this.outgoing.addMessage(m);
    this.schedule();
  }
  messageDelete(messageId: number): void {
    this.outgoing.deleteMessage(messageId); // writes nothing: the rows holding it are freed in time
  }
  outgoingAdd(clientId: string, e: StoredOutgoing): void {
    this.outgoing.set(clientId, e, true);
    this.schedule();
  }
  outgoingUpdate(clientId: string, e: StoredOutgoing): void {
    this.outgoing.set(clientId, e, false);
    this.schedule();
  }
  outgoingDelete(clientId: string, seq: number): void {
    this.outgoing.delete(clientId, seq);
    this.schedule();
  }
  incomingQos2Add(clientId: string, packetId: number): void {
    this.push(['incomingAdd', clientId, packetId]);
  }
  incomingQos2Delete(clientId: string, packetId: number): void {
    this.push(['incomingDelete', clientId, packetId]);
  }

  sync(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.hasPending()) return (this.waiter ??= deferred()).promise;
    if (this.inFlight !== undefined) return (this.inFlight.waiter ??= deferred()).promise;
    return undefined; // nothing recorded since the last commit reached the disk
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.writer === undefined) {
      this.commitHere();
      this.closed = true;
      this.db?.close();
      this.db = undefined;
      return;
    }
    // the last changes follow the commit in flight; then the writer closes the file and ends
    const writer = this.writer;
    this.closing = deferred();
    this.flush();
    const closed = this.closing.promise;
    if (this.inFlight === undefined) this.sendClose();
    await closed.catch(() => undefined);
    this.closed = true;
    await writer.terminate();
  }

  /** Size of the database file in bytes (page count × page size) after the last commit, for $SYS and metrics. */
  get sizeBytes(): number {
    return this.bytes;
  }

  private push(write: Write): void {
    if (this.closed) return;
    appendWrite(this.writes, write);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    const delay = this.options.commitDelayMs ?? 0;
    this.timer = delay > 0 ? setTimeout(() => this.flush(), delay) : setImmediate(() => this.flush());
  }

  private hasPending(): boolean {
    return this.writes.length > 0 || this.outgoing.pending;
  }

  /** Everything recorded since the last commit, as writes, the outgoing log's row last; both start again empty. */
  private takeWrites(): WriteBatch {
    const writes = this.writes;
    this.writes = [];
    if (!this.outgoing.pending) return writes;
    // the row's bytes are a view into the log's buffer until the next commit: compactBuffers
    // (or the commit on this thread) copies them before then
    const { row, data, trimBelow } = this.outgoing.commit();
    if (row !== undefined) writes.push(writeNumber.outgoingLogAppend, row, data);
    if (trimBelow !== undefined) writes.push(writeNumber.outgoingLogTrim, trimBelow);
    return writes;
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }

  /** Sends what is pending to the writer thread, unless a commit is on its way (it follows that one). */
  private flush(): void {
    this.clearTimer();
    if (this.writer === undefined) {
      this.commitHere();
      return;
    }
    if (this.inFlight !== undefined || this.failure !== undefined || this.closeSent) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    const writes = this.takeWrites();
    if (writes.length === 0) {
      waiter?.resolve(); // everything recorded cancelled out
      return;
    }
    this.inFlight = { waiter };
    const payloads = compactBuffers(writes);
    this.writer.postMessage({ type: 'commit', writes } satisfies WriterRequest, payloads === undefined ? [] : [payloads]);
  }

  private sendClose(): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.writer?.postMessage({ type: 'close' } satisfies WriterRequest);
  }

  private onReply(reply: WriterReply): void {
    if (reply.type === 'closed') {
      this.closing?.resolve();
      return;
    }
    const done = this.inFlight;
    this.inFlight = undefined;
    if (reply.type === 'failed') {
      const failure = new Error(reply.message);
      this.options.onError?.(failure);
      done?.waiter?.reject(failure);
    } else {
      if (reply.type === 'committed') this.bytes = reply.bytes;
      done?.waiter?.resolve();
    }
    if (this.hasPending()) this.flush();
    if (this.closing !== undefined && this.inFlight === undefined) this.sendClose();
  }

  /** The writer thread is gone: nothing recorded from now on can be made durable. */
  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.options.onError?.(error);
    this.inFlight?.waiter?.reject(error);
    this.waiter?.reject(error);
    this.inFlight = undefined;
    this.waiter = undefined;
    this.closing?.reject(error);
  }

  /** Before load() hands the file over: one transaction on this thread, as the writer would run it. */
  private commitHere(): void {
    this.clearTimer();
    const waiter = this.waiter;
    this.waiter = undefined;
    const writes = this.takeWrites();
    if (writes.length > 0 && this.writeHere !== undefined) {
      try {
        this.writeHere(writes);
        if (this.db !== undefined) this.bytes = databaseBytes(this.db);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.options.onError?.(failure);
        waiter?.reject(failure);
        return;
      }
    }
    waiter?.resolve();
  }
}

/** Properties as JSON; Buffers (correlation data) become {"type":"Buffer","data":[...]} and back. */
function propertiesText(properties: Properties | undefined): string | null {
  return properties === undefined ? null : JSON.stringify(properties);
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
  if (version < storeVersion && migrate(db, version)) return;
  if (version !== storeVersion) throw new StoreOpenError(`${file}: Culex persistence format version ${meta.get('version')}, this Culex reads version ${storeVersion}`);
}

/**
 * The writer thread. Built, it is sqlite-writer.js beside this file; run from the TypeScript
 * sources (tests, tsx), a worker does not inherit tsx's loader, so a tiny script registers tsx in
 * the worker first and then imports sqlite-writer.ts.
 */
function startWriterThread(data: WriterData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./sqlite-writer.js', here), { workerData: data });
  const writer = new URL('./sqlite-writer.ts', here).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(writer)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
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
