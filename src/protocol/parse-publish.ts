// Decoders for PUBLISH and its acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5.0 §3.3–§3.7).
// PUBLISH is the hot path: its payload is a view into the bytes read, never a copy.

import type { AckPacket, Properties, PublishPacket, QoS } from './packets.js';
import { statementFor, type DecodeContext, type PacketReader } from './packet-reader.js';
import { PropertyContext, readProperties } from './properties.js';
import { ReasonCode } from './reason-codes.js';
import { hasWildcard } from './validate.js';
import { PUBACK_REASON_CODES, PUBREL_REASON_CODES } from './valid-reason-codes.js';

export function parsePublish(r: PacketReader, flags: number, ctx: DecodeContext): PublishPacket {
  const version = ctx.protocolVersion;
  // QoS 3 [MQTT-3.3.1-4] and DUP on QoS 0 [MQTT-3.3.1-2] were rejected with the fixed header.
  const qos = ((flags >> 1) & 0x03) as QoS;
  const topic = r.utf8('Topic Name');
  if (hasWildcard(topic)) {
    r.fail(ReasonCode.TopicNameInvalid, `Topic Name "${topic}" contains a wildcard character`, 'MQTT-3.3.2-2');
  }
  let packetId = 0;
  if (qos > 0) {
    packetId = r.u16('Packet Identifier');
    if (packetId === 0) {
      r.protocolError('a QoS > 0 PUBLISH needs a non-zero Packet Identifier', statementFor(version, 'MQTT-2.2.1-3', 'MQTT-2.3.1-1'));
    }
  }
  const properties = version === 5 ? readProperties(r, PropertyContext.publish) : undefined;
  // 5.0 lets a zero-length Topic Name stand for a Topic Alias (§3.3.2.1); the alias map is the broker's.
  if (topic.length === 0 && properties?.topicAlias === undefined) {
    r.protocolError(
      version === 5 ? 'zero-length Topic Name without a Topic Alias' : 'zero-length Topic Name',
      'MQTT-4.7.3-1',
    );
  }
  if (properties !== undefined) {
    if (ctx.side === 'server' && properties.subscriptionIdentifiers !== undefined) {
      r.protocolError('a PUBLISH from a Client must not carry a Subscription Identifier', 'MQTT-3.3.4-6');
    }
    checkResponseTopic(r, properties);
  }
  const payload = r.rest();

  const packet: PublishPacket = {
    type: 'publish',
    topic,
    payload,
    qos,
    retain: (flags & 0x01) !== 0,
    dup: (flags & 0x08) !== 0,
  };
  if (qos > 0) packet.packetId = packetId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

/** The Response Topic names where to publish a response, so it is a Topic Name [MQTT-3.3.2-14]. */
export function checkResponseTopic(r: PacketReader, properties: Properties): void {
  const responseTopic = properties.responseTopic;
  if (responseTopic !== undefined && hasWildcard(responseTopic)) {
    r.protocolError(`Response Topic "${responseTopic}" contains a wildcard character`, 'MQTT-3.3.2-14');
  }
}

type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

const ACK_RULES: Record<AckType, { codes: ReadonlySet<number>; statement: string; context: number }> = {
  puback: { codes: PUBACK_REASON_CODES, statement: 'MQTT-3.4.2-1', context: PropertyContext.puback },
  pubrec: { codes: PUBACK_REASON_CODES, statement: 'MQTT-3.5.2-1', context: PropertyContext.pubrec },
  pubrel: { codes: PUBREL_REASON_CODES, statement: 'MQTT-3.6.2-1', context: PropertyContext.pubrel },
  pubcomp: { codes: PUBREL_REASON_CODES, statement: 'MQTT-3.7.2-1', context: PropertyContext.pubcomp },
};

export function parseAck<T extends AckType>(r: PacketReader, type: T, ctx: DecodeContext): AckPacket<T> {
  const packetId = r.u16('Packet Identifier');
  // 3.1.1: the Packet Identifier is the whole packet. 5.0: Reason Code and properties may follow, and
  // each may be left out: Remaining Length 2 means 0x00 Success, < 4 means no properties (§3.4.2.1).
  if (ctx.protocolVersion !== 5 || r.remaining === 0) {
    r.expectEnd('the Packet Identifier');
    return { type, packetId };
  }
  const rules = ACK_RULES[type];
  const reasonCode = r.u8('Reason Code');
  if (!rules.codes.has(reasonCode)) {
    r.protocolError(`0x${reasonCode.toString(16)} is not a ${type.toUpperCase()} reason code`, rules.statement);
  }
  const properties = r.remaining === 0 ? undefined : readProperties(r, rules.context);
  r.expectEnd('the properties');
  const packet: AckPacket<T> = { type, packetId, reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
