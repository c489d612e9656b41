// Packet encoders: one exact-size allocation per packet, every field written in place. PUBLISH has its
// own entry point so that one encoding can be shared by every subscriber of a message.
// For 3.1 and 3.1.1 properties and 5.0-only reason codes are left out; for 5.0 the short forms are used
// wherever the spec allows them (e.g. PUBACK 0x00 without properties is 2 bytes of Remaining Length).

import type {
  AckPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from './packets.js';
import { PacketTypeNumber as T } from './packets.js';
import { PropertyContext, propertiesSize, writeProperties } from './properties.js';
import { encodeAuth, encodeConnack, encodeConnect, encodeDisconnect } from './write-connect.js';
import {
  finishPacket,
  MAX_FIELD_LENGTH,
  startPacket,
  stringFieldSize,
  varIntSize,
  writeString,
} from './wire.js';

/**
 * Encodes any packet for a peer speaking `version`. Throws RangeError for values that cannot be
 * encoded (a string over 65535 bytes, a packet over 268435455 bytes of Remaining Length, AUTH before
 * 5.0): those are programming errors, not protocol errors, since everything parsed fits by construction.
 */
export function encodePacket(packet: Packet, version: ProtocolVersion): Buffer {
  switch (packet.type) {
    case 'publish':
      return encodePublish(packet, version).bytes;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAck(packet, version);
    case 'connect':
      return encodeConnect(packet, version);
    case 'connack':
      return encodeConnack(packet, version);
    case 'subscribe':
      return encodeSubscribe(packet, version);
    case 'suback':
      return encodeSuback(packet, version);
    case 'unsubscribe':
      return encodeUnsubscribe(packet, version);
    case 'unsuback':
      return encodeUnsuback(packet, version);
    case 'pingreq':
      return finishPacket(startPacket(T.pingreq << 4, 0), 2);
    case 'pingresp':
      return finishPacket(startPacket(T.pingresp << 4, 0), 2);
    case 'disconnect':
      return encodeDisconnect(packet, version);
    case 'auth':
      return encodeAuth(packet, version);
  }
}

export interface EncodedPublish {
  readonly bytes: Buffer;
  /** Offset of the 2-byte Packet Identifier inside bytes; -1 for QoS 0. */
  readonly packetIdOffset: number;
}

/** Bit 3 of byte 0 of a PUBLISH: DUP, for a caller patching a copy of a shared encoding. */
export const PUBLISH_DUP_FLAG = 0x08;

/**
 * Writes one subscriber's Packet Identifier (and DUP) into a copy of a shared encoding that starts
 * at `start` of `target`: the copy a socket or the bridge's local client gets of encodePublish's bytes.
 */
export function patchEncodingCopy(target: Buffer, start: number, packetIdOffset: number, packetId: number, dup: boolean): void {
  target.writeUInt16BE(packetId, start + packetIdOffset);
  if (dup) target[start]! |= PUBLISH_DUP_FLAG;
}

/**
 * Hot path: encodes a PUBLISH once so that many subscribers can share it; for QoS > 0 the caller copies
 * `bytes` and patches the Packet Identifier at packetIdOffset (and DUP, PUBLISH_DUP_FLAG in byte 0).
 * A missing packetId is written as 0 for the caller to patch.
 */
export function encodePublish(packet: PublishPacket, version: ProtocolVersion): EncodedPublish {
  return encodePublishFields(packet.topic, packet.payload, packet.qos, packet.retain, packet.dup, packet.packetId ?? 0, packet.properties, version);
}

/** encodePublish from the fields themselves: the broker's messages encode without building a packet object. */
export function encodePublishFields(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  properties: Properties | undefined,
  version: ProtocolVersion,
): EncodedPublish {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  if (topicBytes > MAX_FIELD_LENGTH) throw new RangeError(`Topic Name of ${topicBytes} bytes exceeds 65535`);
  const propsSize = version === 5 ? propertiesSize(properties, PropertyContext.publish) : 0;
  let remainingLength = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
  if (version === 5) remainingLength += varIntSize(propsSize) + propsSize;

  // DUP is only meaningful with QoS > 0 and MUST be 0 for QoS 0 [MQTT-3.3.1-2].
  const dupFlag = dup && qos > 0 ? PUBLISH_DUP_FLAG : 0;
  const buf = startPacket((T.publish << 4) | dupFlag | (qos << 1) | (retain ? 1 : 0), remainingLength);
  let pos = writeString(buf, buf.length - remainingLength, topic, topicBytes);
  let packetIdOffset = -1;
  if (qos > 0) {
    packetIdOffset = pos;
    pos = buf.writeUInt16BE(packetId, pos);
  }
  if (version === 5) pos = writeProperties(buf, pos, properties, PropertyContext.publish, propsSize);
  pos += payload.copy(buf, pos);
  return { bytes: finishPacket(buf, pos), packetIdOffset };
}

const ACK_FIRST_BYTE = {
  puback: T.puback << 4,
  pubrec: T.pubrec << 4,
  // PUBREL's reserved flags are 0b0010 [MQTT-3.6.1-1].
  pubrel: (T.pubrel << 4) | 0b0010,
  pubcomp: T.pubcomp << 4,
} as const;

/** The short form of each acknowledgement (packet id only; 0 where the id goes), shared, never written to. */
const SHORT_ACKS = {
  puback: Buffer.from([ACK_FIRST_BYTE.puback, 2, 0, 0]),
  pubrec: Buffer.from([ACK_FIRST_BYTE.pubrec, 2, 0, 0]),
  pubrel: Buffer.from([ACK_FIRST_BYTE.pubrel, 2, 0, 0]),
  pubcomp: Buffer.from([ACK_FIRST_BYTE.pubcomp, 2, 0, 0]),
} as const;

/** Where the Packet Identifier sits in a SHORT_ACKS template. */
export const SHORT_ACK_PACKET_ID_OFFSET = 2;

/**
 * The shared template of `packet` when it encodes to the short form, the same bytes encodeAck
 * gives (3.1.1; 5.0 with 0x00 and no properties), so that a writer only patches the packet id in;
 * undefined for any other packet.
 */
export function shortAckTemplate(packet: Packet): Buffer | undefined {
  switch (packet.type) {
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return (packet.reasonCode ?? 0) === 0 && packet.properties === undefined ? SHORT_ACKS[packet.type] : undefined;
    default:
      return undefined;
  }
}

function encodeAck(packet: AckPacket<'puback' | 'pubrec' | 'pubrel' | 'pubcomp'>, version: ProtocolVersion): Buffer {
  const byte0 = ACK_FIRST_BYTE[packet.type];
  const reasonCode = packet.reasonCode ?? 0;
  const propsSize = version === 5 ? propertiesSize(packet.properties, PropertyContext[packet.type]) : 0;
  // 3.1.1, or 5.0 with 0x00 and no properties: the Packet Identifier alone (§3.4.2.1).
  let remainingLength = 2;
  if (version === 5 && (reasonCode !== 0 || propsSize > 0)) {
    // A reason code without properties may leave out the Property Length (§3.4.2.2.1).
    remainingLength = propsSize === 0 ? 3 : 3 + varIntSize(propsSize) + propsSize;
  }
  const buf = startPacket(byte0, remainingLength);
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - remainingLength);
  if (remainingLength > 2) pos = buf.writeUInt8(reasonCode, pos);
  if (propsSize > 0) pos = writeProperties(buf, pos, packet.properties, PropertyContext[packet.type], propsSize);
  return finishPacket(buf, pos);
}

/** Subscription Options byte (§3.8.3.1); 3.1.1 has only the Requested QoS in it. */
function subscriptionOptions(
  subscription: SubscribePacket['subscriptions'][number],
  version: ProtocolVersion,
): number {
  if (version !== 5) return subscription.qos;
  return (
    subscription.qos |
    (subscription.noLocal ? 0x04 : 0) |
    (subscription.retainAsPublished ? 0x08 : 0) |
    (subscription.retainHandling << 4)
  );
}

function encodeSubscribe(packet: SubscribePacket, version: ProtocolVersion): Buffer {
  const propsSize = version === 5 ? propertiesSize(packet.properties, PropertyContext.subscribe) : 0;
  let remainingLength = 2 + (version === 5 ? varIntSize(propsSize) + propsSize : 0);
  for (const subscription of packet.subscriptions) remainingLength += stringFieldSize(subscription.filter) + 1;
  // SUBSCRIBE's reserved flags are 0b0010 [MQTT-3.8.1-1].
  const buf = startPacket((T.subscribe << 4) | 0b0010, remainingLength);
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - remainingLength);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, PropertyContext.subscribe, propsSize);
  for (const subscription of packet.subscriptions) {
    pos = writeString(buf, pos, subscription.filter);
    buf[pos++] = subscriptionOptions(subscription, version);
  }
  return finishPacket(buf, pos);
}

function encodeSuback(packet: SubackPacket, version: ProtocolVersion): Buffer {
  const propsSize = version === 5 ? propertiesSize(packet.properties, PropertyContext.suback) : 0;
  const remainingLength =
    2 + (version === 5 ? varIntSize(propsSize) + propsSize : 0) + packet.reasonCodes.length;
  const buf = startPacket(T.suback << 4, remainingLength);
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - remainingLength);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, PropertyContext.suback, propsSize);
  for (const code of packet.reasonCodes) pos = buf.writeUInt8(code, pos);
  return finishPacket(buf, pos);
}

function encodeUnsubscribe(packet: UnsubscribePacket, version: ProtocolVersion): Buffer {
  const propsSize = version === 5 ? propertiesSize(packet.properties, PropertyContext.unsubscribe) : 0;
  let remainingLength = 2 + (version === 5 ? varIntSize(propsSize) + propsSize : 0);
  for (const filter of packet.filters) remainingLength += stringFieldSize(filter);
  // UNSUBSCRIBE's reserved flags are 0b0010 [MQTT-3.10.1-1].
  const buf = startPacket((T.unsubscribe << 4) | 0b0010, remainingLength);
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - remainingLength);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, PropertyContext.unsubscribe, propsSize);
  for (const filter of packet.filters) pos = writeString(buf, pos, filter);
  return finishPacket(buf, pos);
}

/** 3.1.1 UNSUBACK is the Packet Identifier alone; 5.0 adds properties and a reason code per filter. */
function encodeUnsuback(packet: UnsubackPacket, version: ProtocolVersion): Buffer {
  if (version !== 5) {
    const buf = startPacket(T.unsuback << 4, 2);
    return finishPacket(buf, buf.writeUInt16BE(packet.packetId, 2));
  }
  const reasonCodes = packet.reasonCodes ?? [];
  const propsSize = propertiesSize(packet.properties, PropertyContext.unsuback);
  const remainingLength = 2 + varIntSize(propsSize) + propsSize + reasonCodes.length;
  const buf = startPacket(T.unsuback << 4, remainingLength);
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - remainingLength);
  pos = writeProperties(buf, pos, packet.properties, PropertyContext.unsuback, propsSize);
  for (const code of reasonCodes) pos = buf.writeUInt8(code, pos);
  return finishPacket(buf, pos);
}
