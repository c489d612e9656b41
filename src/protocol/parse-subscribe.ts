// Decoders for SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK (MQTT 5.0 §3.8–§3.11).
// Topic Filters are only checked to be UTF-8 strings here: a bad filter is answered per filter in
// SUBACK/UNSUBACK (0x8F / 0x80), so the broker calls validateTopicFilter, not the parser.

import type { QoS, RetainHandling, SubackPacket, SubscribePacket, SubscriptionRequest, UnsubackPacket, UnsubscribePacket } from './packets.js';
import { statementFor, type DecodeContext, type PacketReader } from './packet-reader.js';
import { PropertyContext, readProperties } from './properties.js';
import { isSharedFilter } from './validate.js';
import { SUBACK_REASON_CODES, SUBACK_RETURN_CODES_V3, UNSUBACK_REASON_CODES } from './valid-reason-codes.js';

/** Subscription Options byte (§3.8.3.1). */
const Option = {
  QoSMask: 0x03,
  NoLocal: 0x04,
  RetainAsPublished: 0x08,
  RetainHandlingShift: 4,
  RetainHandlingMask: 0x03,
  ReservedV5: 0xc0,
  /** In 3.1.1 only the two QoS bits are defined: bits 7-2 are reserved. */
  ReservedV3: 0xfc,
} as const;

function readNonZeroPacketId(r: PacketReader, ctx: DecodeContext): number {
  const packetId = r.u16('Packet Identifier');
  if (packetId === 0) {
    r.protocolError('the Packet Identifier must be non-zero', statementFor(ctx.protocolVersion, 'MQTT-2.2.1-3', 'MQTT-2.3.1-1'));
  }
  return packetId;
}

export function parseSubscribe(r: PacketReader, ctx: DecodeContext): SubscribePacket {
  const version = ctx.protocolVersion;
  const packetId = readNonZeroPacketId(r, ctx);
  const properties = version === 5 ? readProperties(r, PropertyContext.subscribe) : undefined;
  if (r.remaining === 0) {
    r.protocolError('a SUBSCRIBE must contain at least one Topic Filter', statementFor(version, 'MQTT-3.8.3-2', 'MQTT-3.8.3-3'));
  }
  const subscriptions: SubscriptionRequest[] = [];
  while (r.remaining > 0) {
    const filter = r.utf8('Topic Filter');
    const options = r.u8('Subscription Options');
    const qos = options & Option.QoSMask;
    if (version === 5) {
      if ((options & Option.ReservedV5) !== 0) {
        r.malformed('reserved Subscription Options bits 7-6 must be 0', 'MQTT-3.8.3-5');
      }
      // 5.0 states these two as Protocol Errors (§3.8.3.1).
      if (qos === 3) r.protocolError('Maximum QoS 3 in Subscription Options');
      const retainHandling = (options >> Option.RetainHandlingShift) & Option.RetainHandlingMask;
      if (retainHandling === 3) r.protocolError('Retain Handling 3 in Subscription Options');
      const noLocal = (options & Option.NoLocal) !== 0;
      if (noLocal && isSharedFilter(filter)) {
        r.protocolError(`No Local on the Shared Subscription "${filter}"`, 'MQTT-3.8.3-4');
      }
      subscriptions.push({
        filter,
        qos: qos as QoS,
        noLocal,
        retainAsPublished: (options & Option.RetainAsPublished) !== 0,
        retainHandling: retainHandling as RetainHandling,
      });
    } else {
      // "malformed ... if any of Reserved bits in the payload are non-zero, or QoS is not 0,1 or 2"; the
      // 3.1.1 document prints this statement's id as "MQTT-3-8.3-4".
      if ((options & Option.ReservedV3) !== 0) r.malformed('reserved bits 7-2 of the Requested QoS byte must be 0', 'MQTT-3-8.3-4');
      if (qos === 3) r.malformed('Requested QoS 3', 'MQTT-3-8.3-4');
      subscriptions.push({ filter, qos: qos as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    }
  }
  const packet: SubscribePacket = { type: 'subscribe', packetId, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function parseSuback(r: PacketReader, ctx: DecodeContext): SubackPacket {
  const version = ctx.protocolVersion;
  const packetId = r.u16('Packet Identifier');
  const properties = version === 5 ? readProperties(r, PropertyContext.suback) : undefined;
  // One code per filter, and a SUBSCRIBE has at least one filter.
  if (r.remaining === 0) r.protocolError('a SUBACK must contain at least one reason code');
  const valid = version === 5 ? SUBACK_REASON_CODES : SUBACK_RETURN_CODES_V3;
  const reasonCodes: number[] = [];
  while (r.remaining > 0) {
    const code = r.u8('Reason Code');
    if (!valid.has(code)) r.protocolError(`0x${code.toString(16)} is not a SUBACK code`, 'MQTT-3.9.3-2');
    reasonCodes.push(code);
  }
  const packet: SubackPacket = { type: 'suback', packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function parseUnsubscribe(r: PacketReader, ctx: DecodeContext): UnsubscribePacket {
  const packetId = readNonZeroPacketId(r, ctx);
  const properties = ctx.protocolVersion === 5 ? readProperties(r, PropertyContext.unsubscribe) : undefined;
  if (r.remaining === 0) r.protocolError('an UNSUBSCRIBE must contain at least one Topic Filter', 'MQTT-3.10.3-2');
  const filters: string[] = [];
  while (r.remaining > 0) filters.push(r.utf8('Topic Filter'));
  const packet: UnsubscribePacket = { type: 'unsubscribe', packetId, filters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function parseUnsuback(r: PacketReader, ctx: DecodeContext): UnsubackPacket {
  const packetId = r.u16('Packet Identifier');
  // 3.1.1 UNSUBACK is the Packet Identifier alone; 5.0 adds properties and one reason code per filter.
  if (ctx.protocolVersion !== 5) {
    r.expectEnd('the Packet Identifier');
    return { type: 'unsuback', packetId };
  }
  const properties = readProperties(r, PropertyContext.unsuback);
  if (r.remaining === 0) r.protocolError('an UNSUBACK must contain at least one reason code');
  const reasonCodes: number[] = [];
  while (r.remaining > 0) {
    const code = r.u8('Reason Code');
    if (!UNSUBACK_REASON_CODES.has(code)) r.protocolError(`0x${code.toString(16)} is not an UNSUBACK reason code`, 'MQTT-3.11.3-2');
    reasonCodes.push(code);
  }
  const packet: UnsubackPacket = { type: 'unsuback', packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
