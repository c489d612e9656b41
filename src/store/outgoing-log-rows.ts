// The rows of the SQLite store's outgoing log (outgoing-log.ts): how the ops are written and how
// rows are replayed on load.
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
import type { StoredMessage, StoredOutgoing } from './port.js';

/** The ops' codes. */
export const op = { MESSAGE: 1, DEFINE: 2, SELECT: 3, RESET: 4, SET: 5, DELETE: 6, DELETE_RANGE: 7 } as const;
const { MESSAGE, DEFINE, SELECT, RESET, SET, DELETE, DELETE_RANGE } = op;

/** An entry's state, stored as its index here. */
export const states = ['queued', 'publish', 'pubrel'] as const;
const stateIndex: Readonly<Record<StoredOutgoing['state'], number>> = { queued: 0, publish: 1, pubrel: 2 };

export function writeEntry(out: ByteWriter, e: StoredOutgoing): void {
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

export function writeMessage(out: ByteWriter, m: StoredMessage): void {
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
export function messageBytes(m: StoredMessage): number {
  const out = new ByteWriter(64);
  writeMessage(out, m);
  return out.length + 1;
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
export class ByteWriter {
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
