// The outgoing entries of every persistent session in the SQLite store, and the messages they refer
// to, kept as one log: each commit appends one row holding every message stored, entry set and
// entry deleted in it, whatever the number of sessions and messages. Why: with a row per entry and
// per message, a message fanned out to 100 persistent sessions was 101 inserted rows and, at the
// acknowledgements, 101 deleted ones; SQLite's B-tree work, the binding of the rows' parameters
// and their copy to the writer thread took most of what persistence cost (bench/fanout.ts --target
// culex-persist, docs/BENCHMARKS.md).
//
// The log is replayed in row order on load. To keep it short, rows are deleted from the front once
// nothing live needs them: a session with entries needs the rows from the one where its current
// entries start (`since`: where it last went from no entries to some, or its last snapshot), a
// message some entry refers to the row that holds it. Once the log's bytes outnumber twice the live
// bytes plus a margin, what is at the front is written again into the new row (a session as a
// snapshot: a reset, then every entry), so the front of the log moves on. Each change is thereby
// written a bounded number of times, amortised, and a commit rewrites a bounded number of bytes (at
// least one session or message). A message no entry refers to any more costs nothing: it is not
// live, and the replay drops it.
//
// The log keeps no copy of what is live, only a count of entries per session and the row of each
// live message (a copy cost 350 bytes per queued message, docs/BENCHMARKS.md): what it writes again
// it reads from the broker's sessions, through the OutgoingSource the broker gives the store.
//
// The rows' format is in outgoing-log-rows.ts.

import type { OutgoingSource, StoredMessage, StoredOutgoing } from './port.js';
import { ByteWriter, messageBytes, op, writeEntry, writeMessage, type Replayed } from './outgoing-log-rows.js';

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
    if (log === undefined) return;
    if (log.count > 0) {
      log.count--;
      this.liveBytes -= ENTRY_BYTES;
    } // else the count went wrong (checked at the commit): the delete is written all the same
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
    this.writeOp(op.RESET);
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
    for (const _ of this.source.entries(log.clientId)) count++;
    this.liveBytes += count * ENTRY_BYTES;
    log.count = count;
    return count > 0;
  }

  /** The index, from rowHead, of the first row holding a live message; rowNumbers.length when none. */
  private firstMessageRow(): number {
    while (this.messageFront < this.rowNumbers.length && !this.liveInRow.has(this.rowNumbers[this.messageFront]!)) this.messageFront++;
    return this.messageFront;
  }

  /** The session with entries whose `since` is the oldest (the pinned set is in that order). */
  private oldestSession(): SessionLog | undefined {
    return this.pinned.values().next().value;
  }

  /** The first row still needed: the oldest live session's `since` or live message's row, or `end`. */
  private front(end: number): number {
    const session = this.oldestSession();
    const index = this.firstMessageRow();
    return Math.min(end, session?.since ?? end, index < this.rowNumbers.length ? this.rowNumbers[index]! : end);
  }

  /** Writes again what is at the front while the log holds too many bytes for what is live. */
  private rewriteFront(): void {
    const source = this.source;
    if (source === undefined) return;
    const limit = this.out.length + REWRITE_BUDGET + 2 * this.out.length;
    let first = true;
    while (this.bytesInLog + this.out.length > 2 * this.liveBytes + REWRITE_MARGIN && (first || this.out.length < limit)) {
      const session = this.oldestSession();
      const sessionSince = session?.since ?? Infinity;
      const index = this.firstMessageRow();
      const messageRow = index < this.rowNumbers.length ? this.rowNumbers[index]! : Infinity;
      if (Math.min(sessionSince, messageRow) >= this.nextRow) return;
      if (session !== undefined && sessionSince <= messageRow) this.snapshot(session, source);
      else this.rewriteMessages(index, source);
      first = false;
    }
  }

  /** A session's entries as they stand, from the broker, written as a snapshot into the new row. */
  private snapshot(log: SessionLog, source: OutgoingSource): void {
    const entries = [...source.entries(log.clientId)].sort((a, b) => a.seq - b.seq);
    this.select(log);
    this.writeOp(op.RESET);
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
      this.writeOp(op.DEFINE);
      this.out.varint(log.index);
      this.out.string(log.clientId);
    } else if (this.selected !== log) {
      this.writeOp(op.SELECT);
      this.out.varint(log.index);
    }
    this.selected = log;
  }

  private writeRun(log: SessionLog): void {
    if (log.runFirst > log.runLast) return;
    this.select(log);
    if (log.runFirst === log.runLast) {
      this.writeOp(op.DELETE);
      this.out.varint(log.runFirst);
    } else {
      this.writeOp(op.DELETE_RANGE);
      this.out.varint(log.runFirst);
      this.out.varint(log.runLast);
    }
    log.runFirst = 1;
    log.runLast = 0;
  }

  private entry(e: StoredOutgoing): void {
    this.writeOp(op.SET);
    writeEntry(this.out, e);
  }

  private writeMessage(m: StoredMessage): void {
    this.writeOp(op.MESSAGE);
    writeMessage(this.out, m);
  }

  /** Writes an op's code, with room for the numbers that follow it (not an entry's: writeEntry). */
  private writeOp(code: number): void {
    this.out.reserve(1 + 2 * 8);
    this.out.byte(code);
  }
}
