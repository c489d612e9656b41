// The bytes nodes send each other through Redis. Several frames travel in one Redis message (the
// per-turn batch), each behind its 4-byte length. A message frame carries everything a receiving
// node needs to route with single-node semantics: QoS, retain, the origin client id (No Local
// [MQTT-3.8.3-3]), the properties as MQTT 5.0 encodes them (user properties, correlation data, …)
// and the absolute receive and expiry times, so the remaining expiry keeps counting down
// [MQTT-3.3.2-6] (node clocks are assumed NTP-synchronised).

import type { Properties, QoS, Will } from '../protocol/packets.js';
import { PacketReader, ParseFailure } from '../protocol/packet-reader.js';
import { PropertyContext, propertiesSize, readProperties, writeProperties } from '../protocol/properties.js';
import { varIntSize } from '../protocol/wire.js';
import { Message, type ClusterMessageId } from '../broker/message.js';

export const FrameKind = { message: 1, takeover: 2, handOver: 3, handedOver: 4, inbox: 5, willOwner: 6 } as const;

/** One shared-subscription group a frame is for: the receiving node delivers to one of its members. */
export interface GroupRef {
  readonly group: string;
  readonly topicFilter: string;
}

/**
 * Which message a frame carries, the same on every node it reaches: the node that first routed it
 * and that node's routing sequence number. Sent with sessions in Redis, where a message may reach a
 * session twice during a hand-over (directly and re-forwarded by the old node): the new node drops
 * the second one (hand-over-window.ts).
 */
export type FrameId = ClusterMessageId;

export interface MessageFrame {
  readonly kind: typeof FrameKind.message;
  readonly message: Message;
  /** Deliver to plain (non-shared) subscriptions. */
  readonly plain: boolean;
  readonly groups: readonly GroupRef[];
  readonly id: FrameId | undefined;
  /** Deliver to this one session only: re-forwarded by the node that let it go (hand-over-window.ts). */
  readonly target: string | undefined;
}

export interface TakeoverFrame {
  readonly kind: typeof FrameKind.takeover;
  readonly clientId: string;
  readonly clean: boolean;
}

/** Asks the node holding a client id to let its session go (shared store): node `from` takes it. */
export interface HandOverFrame {
  readonly kind: typeof FrameKind.handOver;
  readonly clientId: string;
  readonly clean: boolean;
  readonly from: string;
}

/** The answer: the session of the client id is in the store and no longer held by the sender. */
export interface HandedOverFrame {
  readonly kind: typeof FrameKind.handedOver;
  readonly clientId: string;
}

/** Opens a batch kept in the receiver's inbox (QoS 1/2 messages): the field to delete once stored. */
export interface InboxFrame {
  readonly kind: typeof FrameKind.inbox;
  readonly field: string;
}

/**
 * Follows the message frame of a will kept in Redis (encodeWill): who the client was, so the node
 * that sends the will for a dead node checks it against the ACL as the client's own node would.
 * Never sent on a data channel.
 */
export interface WillOwnerFrame {
  readonly kind: typeof FrameKind.willOwner;
  readonly owner: WillOwner;
}

/** The client identity a will is checked with (auth/port.ts ClientIdentity, less the client id the message carries). */
export interface WillOwner {
  readonly username: string | undefined;
  readonly listener: string;
  readonly remoteAddress: string;
}

export type Frame = MessageFrame | TakeoverFrame | HandOverFrame | HandedOverFrame | InboxFrame | WillOwnerFrame;

const FLAG_RETAIN = 0x04;
const FLAG_PLAIN = 0x08;
const FLAG_ORIGIN = 0x10;
const FLAG_ID = 0x20;
const FLAG_TARGET = 0x40;

const strSize = (text: string): number => 2 + Buffer.byteLength(text, 'utf8');

function writeStr(buf: Buffer, pos: number, text: string): number {
  const length = buf.write(text, pos + 2, 'utf8');
  buf.writeUInt16BE(length, pos);
  return pos + 2 + length;
}

/** A message frame, length prefix included. */
export function encodeMessageFrame(message: Message, plain: boolean, groups: readonly GroupRef[] | undefined, id?: FrameId, target?: string): Buffer {
  const properties = message.properties;
  const propsSize = propertiesSize(properties, PropertyContext.publish);
  let size = 4 + 1 + 1 + 8 + 8 + strSize(message.topic) + 1 + varIntSize(propsSize) + propsSize + 4 + message.payload.length;
  if (message.origin !== undefined) size += strSize(message.origin);
  if (id !== undefined) size += strSize(id.origin) + 8;
  if (target !== undefined) size += strSize(target);
  if (groups !== undefined) for (const ref of groups) size += strSize(ref.group) + strSize(ref.topicFilter);
  const buf = Buffer.allocUnsafe(size);
  let pos = buf.writeUInt32BE(size - 4, 0);
  pos = buf.writeUInt8(FrameKind.message, pos);
  const flags = message.qos | (message.retain ? FLAG_RETAIN : 0) | (plain ? FLAG_PLAIN : 0) | (message.origin !== undefined ? FLAG_ORIGIN : 0) | (id !== undefined ? FLAG_ID : 0) | (target !== undefined ? FLAG_TARGET : 0);
  pos = buf.writeUInt8(flags, pos);
  pos = buf.writeDoubleBE(message.receivedAt, pos);
  pos = buf.writeDoubleBE(message.expiresAt, pos);
  pos = writeStr(buf, pos, message.topic);
  if (message.origin !== undefined) pos = writeStr(buf, pos, message.origin);
  if (id !== undefined) {
    pos = writeStr(buf, pos, id.origin);
    pos = buf.writeDoubleBE(id.seq, pos);
  }
  if (target !== undefined) pos = writeStr(buf, pos, target);
  pos = buf.writeUInt8(groups?.length ?? 0, pos);
  if (groups !== undefined) {
    for (const ref of groups) {
      pos = writeStr(buf, pos, ref.group);
      pos = writeStr(buf, pos, ref.topicFilter);
    }
  }
  pos = writeProperties(buf, pos, properties, PropertyContext.publish, propsSize);
  pos = buf.writeUInt32BE(message.payload.length, pos);
  message.payload.copy(buf, pos);
  return buf;
}

export function encodeTakeoverFrame(clientId: string, clean: boolean): Buffer {
  const size = 4 + 1 + 1 + strSize(clientId);
  const buf = Buffer.allocUnsafe(size);
  let pos = buf.writeUInt32BE(size - 4, 0);
  pos = buf.writeUInt8(FrameKind.takeover, pos);
  pos = buf.writeUInt8(clean ? 1 : 0, pos);
  writeStr(buf, pos, clientId);
  return buf;
}

/** A frame of strings only (hand-over, its answer, inbox): kind, a flag byte, then the strings. */
function encodeTextFrame(kind: number, flag: number, texts: readonly string[]): Buffer {
  let size = 4 + 1 + 1;
  for (const text of texts) size += strSize(text);
  const buf = Buffer.allocUnsafe(size);
  let pos = buf.writeUInt32BE(size - 4, 0);
  pos = buf.writeUInt8(kind, pos);
  pos = buf.writeUInt8(flag, pos);
  for (const text of texts) pos = writeStr(buf, pos, text);
  return buf;
}

export const encodeHandOverFrame = (clientId: string, clean: boolean, from: string): Buffer => encodeTextFrame(FrameKind.handOver, clean ? 1 : 0, [clientId, from]);
export const encodeHandedOverFrame = (clientId: string): Buffer => encodeTextFrame(FrameKind.handedOver, 0, [clientId]);
export const encodeInboxFrame = (field: string): Buffer => encodeTextFrame(FrameKind.inbox, 0, [field]);
/** Flag 1: a username follows the listener and address. */
const encodeWillOwnerFrame = (owner: WillOwner): Buffer =>
  encodeTextFrame(FrameKind.willOwner, owner.username !== undefined ? 1 : 0, owner.username !== undefined ? [owner.listener, owner.remoteAddress, owner.username] : [owner.listener, owner.remoteAddress]);

/**
 * Calls onFrame for each frame of a batch. A damaged batch (another program writing to the channel)
 * stops at the first bad frame and returns its error text; nothing throws.
 */
export function decodeFrames(batch: Buffer, onFrame: (frame: Frame) => void): string | undefined {
  const reader = new PacketReader();
  let pos = 0;
  while (pos < batch.length) {
    if (batch.length - pos < 4) return 'truncated frame length';
    const length = batch.readUInt32BE(pos);
    const end = pos + 4 + length;
    if (end > batch.length) return 'truncated frame';
    reader.reset(batch, pos + 4, end, 'publish');
    let frame: Frame;
    try {
      frame = readFrame(reader);
    } catch (error) {
      return error instanceof ParseFailure ? error.message : String(error);
    }
    onFrame(frame);
    pos = end;
  }
  return undefined;
}

function readFrame(r: PacketReader): Frame {
  const kind = r.u8('kind');
  if (kind === FrameKind.takeover) {
    const clean = r.u8('clean') === 1;
    return { kind, clientId: r.utf8('client id'), clean };
  }
  if (kind === FrameKind.handOver) {
    const clean = r.u8('clean') === 1;
    return { kind, clientId: r.utf8('client id'), clean, from: r.utf8('node') };
  }
  if (kind === FrameKind.handedOver) {
    r.u8('flags');
    return { kind, clientId: r.utf8('client id') };
  }
  if (kind === FrameKind.inbox) {
    r.u8('flags');
    return { kind, field: r.utf8('field') };
  }
  if (kind === FrameKind.willOwner) {
    const withUsername = r.u8('flags') === 1;
    const listener = r.utf8('listener');
    const remoteAddress = r.utf8('address');
    return { kind, owner: { listener, remoteAddress, username: withUsername ? r.utf8('username') : undefined } };
  }
  if (kind !== FrameKind.message) return r.malformed(`unknown frame kind ${kind}`);
  const flags = r.u8('flags');
  if (r.remaining < 16) r.malformed('frame ends inside its times');
  const receivedAt = r.buf.readDoubleBE(r.pos);
  const expiresAt = r.buf.readDoubleBE(r.pos + 8);
  r.pos += 16;
  const topic = r.utf8('topic');
  const origin = (flags & FLAG_ORIGIN) !== 0 ? r.utf8('origin') : undefined;
  let id: FrameId | undefined;
  if ((flags & FLAG_ID) !== 0) {
    const node = r.utf8('id origin');
    if (r.remaining < 8) r.malformed('frame ends inside its id');
    id = { origin: node, seq: r.buf.readDoubleBE(r.pos) };
    r.pos += 8;
  }
  const target = (flags & FLAG_TARGET) !== 0 ? r.utf8('target') : undefined;
  const groupCount = r.u8('group count');
  const groups: GroupRef[] = [];
  for (let i = 0; i < groupCount; i++) groups.push({ group: r.utf8('group'), topicFilter: r.utf8('group filter') });
  const properties = readProperties(r, PropertyContext.publish);
  const length = r.u32('payload length');
  if (length !== r.remaining) r.malformed('payload length does not match the frame');
  // a copy: the batch buffer is shared by every frame of it and may be large
  const payload = Buffer.from(r.buf.subarray(r.pos, r.end));
  const qos = (flags & 0x03) as QoS;
  if (qos > 2) r.malformed('QoS 3');
  const message = new Message(topic, payload, qos, (flags & FLAG_RETAIN) !== 0, properties, expiresAt, origin, receivedAt);
  message.clusterId = id; // kept with the session entries made from it (an inbox replay skips what a session holds)
  return { kind, message, plain: (flags & FLAG_PLAIN) !== 0, groups, id, target };
}

/**
 * A will kept in Redis for another node to send should this one die (MQTT 5.0 §3.1.3.2.2): the
 * delay (4 bytes), the will's message frame, then its owner frame. A will stored by an older
 * version has no owner frame.
 */
export interface StoredWill {
  readonly message: Message;
  /** Seconds to wait: min(Will Delay Interval, Session Expiry Interval) [MQTT-3.1.3-9]. */
  readonly delay: number;
  /** Whom to check the will topic's write access for; undefined when stored by an older version. */
  readonly owner: WillOwner | undefined;
}

export function encodeWill(clientId: string, will: Will, delay: number, owner: WillOwner): Buffer {
  const { willDelayInterval: _delay, ...rest } = will.properties ?? {};
  const properties: Properties | undefined = Object.keys(rest).length > 0 ? rest : undefined;
  // receivedAt 0 marks "not yet sent"; the expiry interval is kept in the properties and applied when sent
  const message = new Message(will.topic, will.payload, will.qos, will.retain, properties, 0, clientId, 0, 0);
  const frame = encodeMessageFrame(message, true, undefined);
  const ownerFrame = encodeWillOwnerFrame(owner);
  const buf = Buffer.allocUnsafe(4 + frame.length + ownerFrame.length);
  buf.writeUInt32BE(delay, 0);
  frame.copy(buf, 4);
  ownerFrame.copy(buf, 4 + frame.length);
  return buf;
}

/** The same stored will with another owner (the client re-authenticated under another username). */
export function withWillOwner(stored: Buffer, owner: WillOwner): Buffer {
  const messageEnd = 4 + 4 + stored.readUInt32BE(4);
  return Buffer.concat([stored.subarray(0, messageEnd), encodeWillOwnerFrame(owner)]);
}

export function decodeWill(buf: Buffer): StoredWill | undefined {
  if (buf.length < 8) return undefined;
  const delay = buf.readUInt32BE(0);
  let message: Message | undefined;
  let owner: WillOwner | undefined;
  const error = decodeFrames(buf.subarray(4), (frame) => {
    if (frame.kind === FrameKind.message) message = frame.message;
    else if (frame.kind === FrameKind.willOwner) owner = frame.owner;
  });
  return error !== undefined || message === undefined ? undefined : { message, delay, owner };
}
