// The outgoing entries of every persistent session in the SQLite store, kept as one log: each
// commit appends one row holding every entry set and deleted in it, whatever the number of
// sessions and messages. Why: with one row per entry, a message fanned out to 100 persistent
// sessions was 100 inserted rows and, at the acknowledgements, 100 deleted ones; SQLite's B-tree
// work, the binding of eight parameters per row and the copy of the rows to the writer thread took
// most of the CPU persistence cost (bench/fanout.ts --target culex-persist, docs/BENCHMARKS.md).
//
// The log is replayed in row order on load. To keep it short, the live entries of each session
// stay in memory here, and rows are deleted from the front once no session needs them: a session
// needs the rows from the one where its current entries start (`since`: where it last went from
// no entries to some, or its last snapshot). Sessions are kept in the order of `since`; once the
// ops in the log outnumber twice the live entries plus a margin, the sessions at the front write a
// snapshot (a reset, then every live entry) into the new row and go to the back, so the front of
// the log is freed. Each change is thereby written a bounded number of times, amortised, and a
// commit snapshots a bounded number of entries (at least one session).
//
// Row format, a sequence of ops: DEFINE index client-id (names a session for the rest of the row
// and selects it) | SELECT index | RESET | SET entry | DELETE seq | DELETE_RANGE first last, the
// last four applying to the selected session. An entry: seq, message id, a flags byte (QoS, retain,
// state, has subscription ids), the packet id, then the subscription ids (count, ids) if any.
// Integers are unsigned LEB128 varints (up to 2^53, so seq and message ids never wrap).

import type { QoS } from '../protocol/packets.js';
import type { StoredOutgoing } from './port.js';

const DEFINE = 1;
const SELECT = 2;
const RESET = 3;
const SET = 4;
const DELETE = 5;
const DELETE_RANGE = 6;

/** An entry's state, stored as its index here. */
export const states = ['queued', 'publish', 'pubrel'] as const;

/** Ops the log may hold beyond twice the live entries before sessions are snapshotted. */
const SNAPSHOT_MARGIN = 4096;
/** Entries one commit may write in snapshots (beyond the first session), beside twice its own ops. */
const SNAPSHOT_BUDGET = 1024;

/** One session's entries. */
class SessionLog {
  readonly live = new Map<number, StoredOutgoing>();
  /** The first row its live entries need; undefined while it has none. */
  since: number | undefined = undefined;
  /** The row its index below was defined in, and the index. */
  row = 0;
  index = 0;
  /** A run of consecutive deletes not written yet (first > last: none). */
  runFirst = 1;
  runLast = 0;
  touched = false;

  constructor(readonly clientId: string) {}
}

/** A row to insert, and the rows before `trimBelow` to delete. */
export interface LogCommit {
  /** The row's number and content; undefined when nothing needs to be written. */
  readonly row: number | undefined;
  readonly data: Buffer | undefined;
  /** Rows numbered below this are no longer needed; undefined when the front did not move. */
  readonly trimBelow: number | undefined;
}

export class OutgoingLog {
  private readonly sessions = new Map<string, SessionLog>();
  /** The sessions with entries, in the order of `since` (a Set iterates in insertion order). */
  private readonly pinned = new Set<SessionLog>();
  private nextRow: number;
  private trimmedBelow: number;
  /** Each row in the file from the front, with its ops; `rowHead` is the front. */
  private rowNumbers: number[] = [];
  private rowOps: number[] = [];
  private rowHead = 0;
  private opsInLog = 0;
  private totalLive = 0;
  private readonly out = new ByteWriter();
  private opsThisRow = 0;
  private indexesThisRow = 0;
  private selected: SessionLog | undefined;
  private touched: SessionLog[] = [];

  /** A log continuing the rows read back (replay), or a new one. */
  constructor(replayed?: Replayed) {
    this.nextRow = replayed?.nextRow ?? 1;
    this.trimmedBelow = replayed?.firstRow ?? this.nextRow;
    if (replayed === undefined) return;
    for (const [row, ops] of replayed.rows) {
      this.rowNumbers.push(row);
      this.rowOps.push(ops);
      this.opsInLog += ops;
    }
    for (const [clientId, entries] of replayed.sessions) {
      const log = this.session(clientId);
      for (const [seq, entry] of entries) log.live.set(seq, entry);
      this.totalLive += entries.size;
      if (entries.size === 0) continue;
      log.since = replayed.firstRow; // where its entries start is not known: from the front
      this.pinned.add(log);
    }
  }

  /** True when a commit has something to write. */
  get pending(): boolean {
    return this.opsThisRow > 0 || this.touched.length > 0;
  }

  set(clientId: string, entry: StoredOutgoing): void {
    const log = this.session(clientId);
    if (!log.live.has(entry.seq)) this.totalLive++;
    log.live.set(entry.seq, entry);
    if (log.since === undefined) {
      log.since = this.nextRow;
      this.pinned.add(log);
    }
    this.select(log);
    this.entry(entry);
  }

  delete(clientId: string, seq: number): void {
    const log = this.sessions.get(clientId);
    if (log === undefined || !log.live.delete(seq)) return;
    this.totalLive--;
    // acknowledgements mostly come in order: a run of them is one op
    if (log.runFirst <= log.runLast && seq === log.runLast + 1) {
      log.runLast = seq;
      return;
    }
    this.writeRun(log);
    log.runFirst = log.runLast = seq;
    if (!log.touched) {
      log.touched = true;
      this.touched.push(log);
    }
  }

  /** The session is gone: its entries are dropped (a session by that id later starts empty). */
  drop(clientId: string): void {
    const log = this.sessions.get(clientId);
    if (log === undefined) return;
    this.sessions.delete(clientId);
    this.pinned.delete(log);
    this.totalLive -= log.live.size;
    log.live.clear();
    log.since = undefined;
    log.runFirst = 1;
    log.runLast = 0;
    this.select(log);
    this.op(RESET);
  }

  /** Everything changed since the last commit, as a row to insert and a front to trim. */
  commit(): LogCommit {
    for (const log of this.touched) {
      this.writeRun(log);
      log.touched = false;
      if (log.live.size === 0 && log.since !== undefined) {
        log.since = undefined;
        this.pinned.delete(log);
      }
    }
    this.touched = [];
    this.snapshotFront();
    let row: number | undefined;
    let data: Buffer | undefined;
    // a row no session needs (no session has entries after it) is not written at all
    if (this.opsThisRow > 0 && this.pinned.size > 0) {
      row = this.nextRow;
      data = this.out.take();
      this.rowNumbers.push(row);
      this.rowOps.push(this.opsThisRow);
      this.opsInLog += this.opsThisRow;
    }
    this.nextRow++;
    this.out.reset();
    this.opsThisRow = 0;
    this.indexesThisRow = 0;
    this.selected = undefined;
    const trimBelow = this.frontAfter(this.nextRow);
    if (trimBelow <= this.trimmedBelow) return { row, data, trimBelow: undefined };
    this.trimmedBelow = trimBelow;
    while (this.rowHead < this.rowNumbers.length && this.rowNumbers[this.rowHead]! < trimBelow) {
      this.opsInLog -= this.rowOps[this.rowHead]!;
      this.rowHead++;
    }
    if (this.rowHead > 1024 && this.rowHead * 2 > this.rowNumbers.length) {
      this.rowNumbers = this.rowNumbers.slice(this.rowHead);
      this.rowOps = this.rowOps.slice(this.rowHead);
      this.rowHead = 0;
    }
    return { row, data, trimBelow };
  }

  /** The first row still needed: the front session's `since`, or `end` when none has entries. */
  private frontAfter(end: number): number {
    for (const log of this.pinned) return Math.min(log.since!, end);
    return end;
  }

  /** Snapshots the sessions at the front while the log holds too many ops for its live entries. */
  private snapshotFront(): void {
    let budget = SNAPSHOT_BUDGET + 2 * this.opsThisRow;
    let first = true;
    while (this.opsInLog + this.opsThisRow > 2 * this.totalLive + SNAPSHOT_MARGIN && (first || budget > 0)) {
      const front = this.pinned.values().next();
      if (front.done === true || front.value.since! >= this.nextRow) return;
      const log = front.value;
      this.select(log);
      this.op(RESET);
      for (const seq of [...log.live.keys()].sort((a, b) => a - b)) this.entry(log.live.get(seq)!);
      log.runFirst = 1;
      log.runLast = 0;
      log.since = this.nextRow;
      this.pinned.delete(log);
      this.pinned.add(log);
      budget -= 1 + log.live.size;
      first = false;
    }
  }

  private session(clientId: string): SessionLog {
    let log = this.sessions.get(clientId);
    if (log === undefined) this.sessions.set(clientId, (log = new SessionLog(clientId)));
    return log;
  }

  private select(log: SessionLog): void {
    if (log.row !== this.nextRow) {
      log.row = this.nextRow;
      log.index = this.indexesThisRow++;
      this.op(DEFINE);
      this.out.varint(log.index);
      this.out.string(log.clientId);
    } else if (this.selected !== log) {
      this.op(SELECT);
      this.out.varint(log.index);
    }
    this.selected = log;
  }

  private writeRun(log: SessionLog): void {
    if (log.runFirst > log.runLast) return;
    this.select(log);
    if (log.runFirst === log.runLast) {
      this.op(DELETE);
      this.out.varint(log.runFirst);
    } else {
      this.op(DELETE_RANGE);
      this.out.varint(log.runFirst);
      this.out.varint(log.runLast);
    }
    log.runFirst = 1;
    log.runLast = 0;
  }

  private entry(e: StoredOutgoing): void {
    this.op(SET);
    writeEntry(this.out, e);
  }

  /** Writes an op's code, with room for the numbers that follow it (not an entry's: writeEntry). */
  private op(code: number): void {
    this.out.reserve(1 + 2 * 8);
    this.out.byte(code);
    if (code !== DEFINE && code !== SELECT) this.opsThisRow++;
  }
}

/** An entry's state as its index in `states`, without a search (this runs once per delivery). */
const stateIndex: Readonly<Record<StoredOutgoing['state'], number>> = { queued: 0, publish: 1, pubrel: 2 };

function writeEntry(out: ByteWriter, e: StoredOutgoing): void {
  out.reserve(1 + 3 * 8 + 1);
  out.varint(e.seq);
  out.varint(e.messageId);
  const ids = e.subscriptionIds;
  out.byte(e.qos | (e.retain ? 4 : 0) | (stateIndex[e.state] << 3) | (ids === undefined ? 0 : 32));
  out.varint(e.packetId);
  if (ids === undefined) return;
  out.reserve(8 * (1 + ids.length));
  out.varint(ids.length);
  for (const id of ids) out.varint(id);
}

/** Every session's entries as one row holding a snapshot of each (the conversion of an older file). */
export function snapshotRow(sessions: ReadonlyMap<string, readonly StoredOutgoing[]>): Buffer {
  const out = new ByteWriter();
  let index = 0;
  for (const [clientId, entries] of sessions) {
    out.reserve(2 + 8);
    out.byte(DEFINE);
    out.varint(index++);
    out.string(clientId);
    out.reserve(1);
    out.byte(RESET);
    for (const entry of entries) {
      out.reserve(1);
      out.byte(SET);
      writeEntry(out, entry);
    }
  }
  return Buffer.from(out.take());
}

/** The rows read back, replayed. */
export interface Replayed {
  /** Each client id's entries by seq (empty maps included: sessions whose entries all went). */
  readonly sessions: Map<string, Map<number, StoredOutgoing>>;
  /** Each row's number and ops, in order. */
  readonly rows: [number, number][];
  readonly firstRow: number;
  readonly nextRow: number;
}

/** Replays rows, in order of their numbers. Throws on a row that is not a log row, naming it. */
export function replay(rows: Iterable<{ row: number; data: Uint8Array }>): Replayed {
  const sessions = new Map<string, Map<number, StoredOutgoing>>();
  const counted: [number, number][] = [];
  for (const { row, data } of rows) {
    try {
      counted.push([row, replayRow(data, sessions)]);
    } catch (error) {
      throw new Error(`outgoing log row ${row}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const firstRow = counted[0]?.[0] ?? 1;
  const nextRow = (counted[counted.length - 1]?.[0] ?? 0) + 1;
  return { sessions, rows: counted, firstRow, nextRow };
}

function replayRow(data: Uint8Array, sessions: Map<string, Map<number, StoredOutgoing>>): number {
  const reader = new ByteReader(data);
  const names: Map<number, StoredOutgoing>[] = [];
  let entries: Map<number, StoredOutgoing> | undefined;
  let ops = 0;
  const selected = (): Map<number, StoredOutgoing> => {
    if (entries === undefined) throw new Error(`an op before any session, at byte ${reader.at - 1}`);
    return entries;
  };
  while (!reader.done) {
    const op = reader.byte();
    if (op === DEFINE) {
      const index = reader.varint();
      const clientId = reader.string();
      let map = sessions.get(clientId);
      if (map === undefined) sessions.set(clientId, (map = new Map()));
      names[index] = entries = map;
      continue;
    }
    if (op === SELECT) {
      entries = names[reader.varint()];
      if (entries === undefined) throw new Error(`a session index not defined in the row, at byte ${reader.at}`);
      continue;
    }
    if (op < RESET || op > DELETE_RANGE) throw new Error(`an unknown op ${op} at byte ${reader.at - 1}`);
    ops++;
    const map = selected();
    if (op === RESET) map.clear();
    else if (op === SET) {
      const seq = reader.varint();
      const messageId = reader.varint();
      const flags = reader.byte();
      const packetId = reader.varint();
      let subscriptionIds: number[] | undefined;
      if ((flags & 32) !== 0) {
        const count = reader.varint();
        subscriptionIds = [];
        for (let k = 0; k < count; k++) subscriptionIds.push(reader.varint());
      }
      const state = states[(flags >> 3) & 3];
      if (state === undefined) throw new Error(`entry ${seq} has an unknown state`);
      map.set(seq, { seq, messageId, qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, subscriptionIds, packetId, state });
    } else if (op === DELETE) map.delete(reader.varint());
    else {
      const first = reader.varint();
      const last = reader.varint();
      if (last - first < map.size) for (let seq = first; seq <= last; seq++) map.delete(seq);
      else for (const seq of map.keys()) if (seq >= first && seq <= last) map.delete(seq);
    }
  }
  return ops;
}

/** A growable buffer the ops of one row are written into. */
class ByteWriter {
  private buffer = Buffer.allocUnsafeSlow(4096);
  private length = 0;

  /** The bytes written, as a view: valid until the next reset (the commit copies it into its batch). */
  take(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  reset(): void {
    this.length = 0;
  }

  /** Makes room for `bytes` more; byte() and varint() write only into room made before. */
  reserve(bytes: number): void {
    if (this.length + bytes > this.buffer.length) this.grow(bytes);
  }

  byte(value: number): void {
    this.buffer[this.length++] = value;
  }

  /** Up to 8 bytes (2^53); small values, the common case, with 32-bit integer operations. */
  varint(value: number): void {
    const buffer = this.buffer;
    let at = this.length;
    while (value > 0x7fffffff) {
      buffer[at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    while (value >= 0x80) {
      buffer[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buffer[at++] = value;
    this.length = at;
  }

  string(value: string): void {
    const bytes = Buffer.byteLength(value);
    this.reserve(8 + bytes);
    this.varint(bytes);
    this.length += this.buffer.write(value, this.length);
  }

  private grow(bytes: number): void {
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

class ByteReader {
  at = 0;
  constructor(private readonly data: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.data.length;
  }

  byte(): number {
    if (this.at >= this.data.length) throw new Error('the row ends inside an op');
    return this.data[this.at++]!;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  string(): string {
    const length = this.varint();
    if (this.at + length > this.data.length) throw new Error('the row ends inside a client id');
    const text = Buffer.from(this.data.buffer, this.data.byteOffset + this.at, length).toString('utf8');
    this.at += length;
    return text;
  }
}
