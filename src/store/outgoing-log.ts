// The outgoing entries of every persistent session in the SQLite store, and the messages they refer
// to, kept as one log: each commit appends one row holding every message stored, entry set and
// entry deleted in it, whatever the number of sessions and messages. Why: with a row per entry and
// per message, a message fanned out to 100 persistent sessions was 101 inserted rows and, at the
// acknowledgements, 101 deleted ones; SQLite's B-tree work, the binding of the rows' parameters
// and their copy to the writer thread took most of what persistence cost (bench/fanout.ts --target
// culex-persist, docs/BENCHMARKS.md).
//
// The log is replayed in row order on load. To keep it short, what is live (each session's entries,
// each message some entry refers to) stays in memory here, and rows are deleted from the front once
// nothing live needs them: a session needs the rows from the one where its current entries start
// (`since`: where it last went from no entries to some, or its last snapshot), a message the row
// that holds it. Sessions and messages are kept in the order of `since`; once the log's bytes
// outnumber twice the live bytes plus a margin, those at the front are written again into the new
// row (a session as a snapshot: a reset, then every live entry) and go to the back, so the front of
// the log is freed. Each change is thereby written a bounded number of times, amortised, and a
// commit rewrites a bounded number of bytes (at least one session or message). A message no entry
// refers to any more costs nothing: it is not live, and the replay drops it.
//
// Row format, a sequence of ops: MESSAGE body | DEFINE index client-id (names a session for the
// rest of the row and selects it) | SELECT index | RESET | SET entry | DELETE seq | DELETE_RANGE
// first last, the last four applying to the selected session.
// An entry: seq, message id, a flags byte (QoS, retain, state, has subscription ids), the packet
// id, then the subscription ids (count, ids) if any. A message: id, a flags byte (QoS, retain, has
// properties, has origin), expiry and reception times (epoch ms), topic, payload, then properties
// (as JSON) and origin if any. Integers are unsigned LEB128 varints (up to 2^53, so seq and message
// ids never wrap); strings and the payload are a length and their bytes.

import type { Properties, QoS } from '../protocol/packets.js';
import type { OutgoingSource, StoredMessage, StoredOutgoing } from './port.js';

const MESSAGE = 1;
const DEFINE = 2;
const SELECT = 3;
const RESET = 4;
const SET = 5;
const DELETE = 6;
const DELETE_RANGE = 7;

/** An entry's state, stored as its index here. */
export const states = ['queued', 'publish', 'pubrel'] as const;
const stateIndex: Readonly<Record<StoredOutgoing['state'], number>> = { queued: 0, publish: 1, pubrel: 2 };

/** Bytes the log may hold beyond twice the live bytes before the front is written again. */
const REWRITE_MARGIN = 1 << 20;
/** Bytes one commit may rewrite (beyond the first session or message), beside twice its own. */
const REWRITE_BUDGET = 64 << 10;
/** What an entry is counted as in the live bytes (its size in a row is 6–12 bytes). */
const ENTRY_BYTES = 12;
/** A message's row and size share one number: row × SIZE_SPAN + size (sizes above are capped: an estimate). */
const SIZE_SPAN = 1 << 22;

/** One session's entries: how many, and from which row they are in the log. */
class SessionLog {
  count = 0;
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
  /** Each live message: the row holding it and its size, as row × SIZE_SPAN + size. */
  private readonly messages = new Map<number, number>();
  /** Live messages per row number. */
  private readonly liveInRow = new Map<number, number>();
  private nextRow: number;
  private trimmedBelow: number;
  /** Each row in the file from the front: its number, size and the messages written in it. */
  private rowNumbers: number[] = [];
  private rowBytes: number[] = [];
  private rowMessages: (number[] | undefined)[] = [];
  private rowHead = 0;
  /** The first row, from rowHead, that may still hold a live message. */
  private messageFront = 0;
  private messagesThisRow: number[] = [];
  private bytesInLog = 0;
  private liveBytes = 0;
  private readonly out = new ByteWriter();
  private indexesThisRow = 0;
  private selected: SessionLog | undefined;
  private touched: SessionLog[] = [];
  private source: OutgoingSource | undefined;

  /** A log continuing the rows read back (replay) and the messages still referred to, or a new one. */
  constructor(replayed?: Replayed, liveMessages?: Iterable<StoredMessage>) {
    this.nextRow = replayed?.nextRow ?? 1;
    this.trimmedBelow = replayed?.firstRow ?? this.nextRow;
    if (replayed === undefined) return;
    for (const [row, bytes] of replayed.rows) {
      this.rowNumbers.push(row);
      this.rowBytes.push(bytes);
      this.rowMessages.push(undefined);
      this.bytesInLog += bytes;
    }
    // where what was live starts is not known: from the front
    for (const [clientId, entries] of replayed.sessions) {
      const log = this.session(clientId);
      log.count = entries.size;
      this.liveBytes += entries.size * ENTRY_BYTES;
      if (entries.size === 0) continue;
      log.since = replayed.firstRow;
      this.pinned.add(log);
    }
    const first: number[] = [];
    for (const message of liveMessages ?? []) {
      const bytes = Math.min(messageBytes(message), SIZE_SPAN - 1);
      this.messages.set(message.id, replayed.firstRow * SIZE_SPAN + bytes);
      this.liveBytes += bytes;
      first.push(message.id);
    }
    if (first.length > 0 && this.rowNumbers.length > 0) {
      this.rowMessages[0] = first;
      this.liveInRow.set(replayed.firstRow, first.length);
    }
  }

  /**
   * Where entries and messages are read when they are written again: the broker's sessions, which
   * hold them anyway. Without one (a store used on its own), nothing is written again, and rows are
   * freed only once nothing live is in them.
   */
  useSource(source: OutgoingSource): void {
    this.source = source;
  }

  /** True when a commit has something to write. */
  get pending(): boolean {
    return this.out.length > 0 || this.touched.length > 0;
  }

  /** A message the first entry refers to (the store port's messageAdd). */
  addMessage(message: StoredMessage): void {
    this.deleteMessage(message.id); // added again without a delete between: the new copy counts
    const start = this.out.length;
    this.writeMessage(message);
    const bytes = Math.min(this.out.length - start, SIZE_SPAN - 1);
    this.messages.set(message.id, this.nextRow * SIZE_SPAN + bytes);
    this.liveInRow.set(this.nextRow, (this.liveInRow.get(this.nextRow) ?? 0) + 1);
    this.messagesThisRow.push(message.id);
    this.liveBytes += bytes;
  }

  /** No entry refers to the message any more: nothing is written, the rows holding it are free. */
  deleteMessage(id: number): void {
    const at = this.messages.get(id);
    if (at === undefined) return;
    this.messages.delete(id);
    const row = Math.floor(at / SIZE_SPAN);
    const left = (this.liveInRow.get(row) ?? 1) - 1;
    if (left > 0) this.liveInRow.set(row, left);
    else this.liveInRow.delete(row);
    this.liveBytes -= at % SIZE_SPAN;
  }

  /** An entry added (`added`) or changed. */
  set(clientId: string, entry: StoredOutgoing, added: boolean): void {
    const log = this.session(clientId);
    if (added) {
      log.count++;
      this.liveBytes += ENTRY_BYTES;
    }
    if (log.since === undefined) {
      log.since = this.nextRow;
      this.pinned.add(log);
    }
    this.select(log);
    this.entry(entry);
  }

  delete(clientId: string, seq: number): void {
    const log = this.sessions.get(clientId);
    if (log === undefined || log.count === 0) return;
    log.count--;
    this.liveBytes -= ENTRY_BYTES;
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
    this.liveBytes -= log.count * ENTRY_BYTES;
    log.count = 0;
    log.since = undefined;
    log.runFirst = 1;
    log.runLast = 0;
    this.select(log);
    this.op(RESET);
  }

  /**
   * Everything changed since the last commit, as a row to insert and a front to trim. The row's
   * bytes are a view into this log's buffer, valid until the next change: copy them before.
   */
  commit(): LogCommit {
    for (const log of this.touched) {
      this.writeRun(log);
      log.touched = false;
      if (log.count === 0 && log.since !== undefined && !this.holdsEntries(log)) {
        log.since = undefined;
        this.pinned.delete(log);
      }
    }
    this.touched = [];
    this.rewriteFront();
    let row: number | undefined;
    let data: Buffer | undefined;
    // a row nothing live needs (all its entries gone by the commit) is not written at all
    if (this.out.length > 0 && (this.pinned.size > 0 || this.messages.size > 0)) {
      row = this.nextRow;
      data = this.out.take();
      this.rowNumbers.push(row);
      this.rowBytes.push(data.length);
      this.rowMessages.push(this.messagesThisRow.length > 0 ? this.messagesThisRow : undefined);
      this.bytesInLog += data.length;
    }
    if (this.messagesThisRow.length > 0) this.messagesThisRow = [];
    this.nextRow++;
    this.out.reset();
    this.indexesThisRow = 0;
    this.selected = undefined;
    const trimBelow = this.front(this.nextRow);
    if (trimBelow <= this.trimmedBelow) return { row, data, trimBelow: undefined };
    this.trimmedBelow = trimBelow;
    while (this.rowHead < this.rowNumbers.length && this.rowNumbers[this.rowHead]! < trimBelow) {
      this.bytesInLog -= this.rowBytes[this.rowHead]!;
      this.rowMessages[this.rowHead] = undefined;
      this.rowHead++;
    }
    if (this.messageFront < this.rowHead) this.messageFront = this.rowHead;
    if (this.rowHead > 1024 && this.rowHead * 2 > this.rowNumbers.length) {
      this.rowNumbers = this.rowNumbers.slice(this.rowHead);
      this.rowBytes = this.rowBytes.slice(this.rowHead);
      this.rowMessages = this.rowMessages.slice(this.rowHead);
      this.messageFront -= this.rowHead;
      this.rowHead = 0;
    }
    return { row, data, trimBelow };
  }

  /**
   * A session whose count says it holds nothing is checked against the broker's session before
   * its rows are let go: a count gone wrong must not lose entries.
   */
  private holdsEntries(log: SessionLog): boolean {
    if (this.source === undefined) return false;
    let count = 0;
    for (const entry of this.source.entries(log.clientId)) if (entry !== undefined) count++;
    this.liveBytes += count * ENTRY_BYTES;
    log.count = count;
    return count > 0;
  }

  /** The index, from rowHead, of the first row holding a live message; rowNumbers.length when none. */
  private firstMessageRow(): number {
    while (this.messageFront < this.rowNumbers.length && !this.liveInRow.has(this.rowNumbers[this.messageFront]!)) this.messageFront++;
    return this.messageFront;
  }

  /** The first row still needed: the oldest live session's `since` or live message's row, or `end`. */
  private front(end: number): number {
    let first = end;
    for (const log of this.pinned) {
      first = Math.min(first, log.since!);
      break;
    }
    const index = this.firstMessageRow();
    if (index < this.rowNumbers.length) first = Math.min(first, this.rowNumbers[index]!);
    return first;
  }

  /** Writes again what is at the front while the log holds too many bytes for what is live. */
  private rewriteFront(): void {
    const source = this.source;
    if (source === undefined) return;
    const limit = this.out.length + REWRITE_BUDGET + 2 * this.out.length;
    let first = true;
    while (this.bytesInLog + this.out.length > 2 * this.liveBytes + REWRITE_MARGIN && (first || this.out.length < limit)) {
      const session = this.pinned.values().next();
      const sessionSince = session.done === true ? Infinity : session.value.since!;
      const index = this.firstMessageRow();
      const messageRow = index < this.rowNumbers.length ? this.rowNumbers[index]! : Infinity;
      if (Math.min(sessionSince, messageRow) >= this.nextRow) return;
      if (sessionSince <= messageRow) this.snapshot(session.value as SessionLog, source);
      else this.rewriteMessages(index, source);
      first = false;
    }
  }

  /** A session's entries as they stand, from the broker, written as a snapshot into the new row. */
  private snapshot(log: SessionLog, source: OutgoingSource): void {
    const entries = [...source.entries(log.clientId)].sort((a, b) => a.seq - b.seq);
    this.select(log);
    this.op(RESET);
    for (const entry of entries) this.entry(entry);
    this.liveBytes += (entries.length - log.count) * ENTRY_BYTES;
    log.count = entries.length;
    log.runFirst = 1;
    log.runLast = 0;
    this.pinned.delete(log);
    if (entries.length === 0) log.since = undefined;
    else {
      log.since = this.nextRow;
      this.pinned.add(log);
    }
  }

  /** The live messages of the row at `index`, from the broker, written again into the new row. */
  private rewriteMessages(index: number, source: OutgoingSource): void {
    const row = this.rowNumbers[index]!;
    for (const id of this.rowMessages[index] ?? []) {
      const at = this.messages.get(id);
      if (at === undefined || Math.floor(at / SIZE_SPAN) !== row) continue;
      const message = source.message(id);
      this.deleteMessage(id);
      if (message !== undefined) this.addMessage(message); // the broker no longer holds it: let it go
    }
    this.rowMessages[index] = undefined;
    this.liveInRow.delete(row);
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

  private writeMessage(m: StoredMessage): void {
    this.op(MESSAGE);
    writeMessage(this.out, m);
  }

  /** Writes an op's code, with room for the numbers that follow it (not an entry's: writeEntry). */
  private op(code: number): void {
    this.out.reserve(1 + 2 * 8);
    this.out.byte(code);
  }
}

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

function writeMessage(out: ByteWriter, m: StoredMessage): void {
  out.reserve(1 + 3 * 8);
  out.varint(m.id);
  out.byte(m.qos | (m.retain ? 4 : 0) | (m.properties === undefined ? 0 : 8) | (m.origin === undefined ? 0 : 16));
  out.varint(m.expiresAt);
  out.varint(m.receivedAt);
  out.string(m.topic);
  out.bytes(m.payload);
  // Buffers (correlation data) become {"type":"Buffer","data":[...]} and back (parseProperties)
  if (m.properties !== undefined) out.string(JSON.stringify(m.properties));
  if (m.origin !== undefined) out.string(m.origin);
}

/** A message's size in a row (for one read back, whose size was not seen written). */
function messageBytes(m: StoredMessage): number {
  const out = new ByteWriter(64);
  writeMessage(out, m);
  return out.length + 1;
}

/** Every session's entries, and the messages, as one row (the conversion of an older file). */
export function snapshotRow(sessions: ReadonlyMap<string, readonly StoredOutgoing[]>, messages: Iterable<StoredMessage>): Buffer {
  const out = new ByteWriter();
  for (const message of messages) {
    out.reserve(1);
    out.byte(MESSAGE);
    writeMessage(out, message);
  }
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
  /** Every message in the rows, referred to or not, by id (the latest, if one was written twice). */
  readonly messages: Map<number, StoredMessage>;
  /** Each row's number and size, in order. */
  readonly rows: [number, number][];
  readonly firstRow: number;
  readonly nextRow: number;
}

/** Replays rows, in order of their numbers. Throws on a row that is not a log row, naming it. */
export function replay(rows: Iterable<{ row: number; data: Uint8Array }>): Replayed {
  const sessions = new Map<string, Map<number, StoredOutgoing>>();
  const messages = new Map<number, StoredMessage>();
  const counted: [number, number][] = [];
  for (const { row, data } of rows) {
    try {
      replayRow(data, sessions, messages);
    } catch (error) {
      throw new Error(`outgoing log row ${row}: ${error instanceof Error ? error.message : String(error)}`);
    }
    counted.push([row, data.length]);
  }
  const firstRow = counted[0]?.[0] ?? 1;
  const nextRow = (counted[counted.length - 1]?.[0] ?? 0) + 1;
  return { sessions, messages, rows: counted, firstRow, nextRow };
}

function replayRow(data: Uint8Array, sessions: Map<string, Map<number, StoredOutgoing>>, messages: Map<number, StoredMessage>): void {
  const reader = new ByteReader(data);
  const names: Map<number, StoredOutgoing>[] = [];
  let entries: Map<number, StoredOutgoing> | undefined;
  while (!reader.done) {
    const op = reader.byte();
    if (op === MESSAGE) {
      const message = readMessage(reader);
      messages.set(message.id, message);
      continue;
    }
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
    if (entries === undefined) throw new Error(`an op before any session, at byte ${reader.at - 1}`);
    if (op === RESET) entries.clear();
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
      entries.set(seq, { seq, messageId, qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, subscriptionIds, packetId, state });
    } else if (op === DELETE) entries.delete(reader.varint());
    else {
      const first = reader.varint();
      const last = reader.varint();
      if (last - first < entries.size) for (let seq = first; seq <= last; seq++) entries.delete(seq);
      else for (const seq of entries.keys()) if (seq >= first && seq <= last) entries.delete(seq);
    }
  }
}

function readMessage(reader: ByteReader): StoredMessage {
  const id = reader.varint();
  const flags = reader.byte();
  const expiresAt = reader.varint();
  const receivedAt = reader.varint();
  const topic = reader.string();
  const payload = Buffer.from(reader.bytes()); // its own copy: the row's buffer is not kept
  const properties = (flags & 8) !== 0 ? parseProperties(reader.string()) : undefined;
  const origin = (flags & 16) !== 0 ? reader.string() : undefined;
  return { id, topic, payload, qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, properties, expiresAt, receivedAt, origin };
}

/** Properties from JSON, with Buffers (correlation data) back from {"type":"Buffer","data":[...]}. */
export function parseProperties(text: string): Properties {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return Buffer.from((value as { data: number[] }).data);
    }
    return value;
  }) as Properties;
}

/** A growable buffer the ops of one row are written into. */
class ByteWriter {
  private buffer: Buffer;
  length = 0;

  constructor(capacity = 4096) {
    this.buffer = Buffer.allocUnsafeSlow(capacity);
  }

  /** The bytes written, as a view: valid until the next reset and write. */
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

  bytes(value: Uint8Array): void {
    this.reserve(8 + value.length);
    this.varint(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
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

  bytes(): Uint8Array {
    const length = this.varint();
    if (this.at + length > this.data.length) throw new Error('the row ends inside a string or payload');
    const view = this.data.subarray(this.at, this.at + length);
    this.at += length;
    return view;
  }

  string(): string {
    const view = this.bytes();
    return Buffer.from(view.buffer, view.byteOffset, view.length).toString('utf8');
  }
}
