// Random valid packets of every type in our model, for the differential test. Values cover the edges
// of each field (0, maxima, non-ASCII and non-BMP text, a BOM, empty strings where allowed).

import type {
  AckPacket,
  Packet,
  PacketType,
  Properties,
  ProtocolVersion,
  QoS,
  SubscriptionRequest,
  UserProperty,
} from '../../src/protocol/packets.js';

export type Rnd = () => number;
const int = (rnd: Rnd, min: number, max: number): number => min + Math.floor(rnd() * (max - min + 1));
const pick = <T>(rnd: Rnd, items: readonly T[]): T => items[int(rnd, 0, items.length - 1)]!;
const chance = (rnd: Rnd, p = 0.5): boolean => rnd() < p;
const CHARS = ['a', 'b', 'z', 'A', 'Q', '0', '9', '-', '_', '.', ' ', '/', '$', 'é', 'ß', '中', '😀', '\ufeff'];
const LEVEL_CHARS = CHARS.filter((c) => c !== '/');

function text(rnd: Rnd, min = 0, max = 12): string {
  let out = '';
  for (let n = int(rnd, min, max); n > 0; n--) out += pick(rnd, CHARS);
  return out;
}
function level(rnd: Rnd): string {
  let out = '';
  for (let n = int(rnd, 0, 6); n > 0; n--) out += pick(rnd, LEVEL_CHARS);
  return out;
}
function topicName(rnd: Rnd): string {
  const levels = Array.from({ length: int(rnd, 1, 4) }, () => level(rnd));
  const topic = levels.join('/');
  return topic.length === 0 ? 'x' : topic;
}
function topicFilter(rnd: Rnd): string {
  const levels = Array.from({ length: int(rnd, 1, 4) }, () => (chance(rnd, 0.2) ? '+' : level(rnd)));
  if (chance(rnd, 0.2)) levels.push('#');
  const filter = levels.join('/');
  return filter.length === 0 ? '+' : filter;
}
function binary(rnd: Rnd, max = 40): Buffer {
  return Buffer.from(Array.from({ length: int(rnd, 0, max) }, () => int(rnd, 0, 255)));
}
const u32 = (rnd: Rnd): number => pick(rnd, [0, 1, 127, 0xffffffff, int(rnd, 0, 0xffffffff)]);
const u16 = (rnd: Rnd, min = 0): number => pick(rnd, [min, 0xffff, int(rnd, min, 0xffff)]);
const bit = (rnd: Rnd): 0 | 1 => (chance(rnd) ? 1 : 0);
const packetId = (rnd: Rnd): number => pick(rnd, [1, 0xffff, int(rnd, 1, 0xffff)]);
const qos = (rnd: Rnd): QoS => int(rnd, 0, 2) as QoS;

function userProperties(rnd: Rnd): UserProperty[] {
  const names = ['a', 'k', 'é', text(rnd, 0, 4)];
  // Non-empty values: mqtt-packet deviation 3 in differential.test.ts.
  return Array.from({ length: int(rnd, 1, 4) }, () => [pick(rnd, names), text(rnd, 1, 8)] as const);
}

/** Properties drawn from the given generators, each present with probability 1/2. */
function someProperties(rnd: Rnd, generators: { [K in keyof Properties]?: () => Properties[K] }): Properties | undefined {
  const properties: Record<string, unknown> = {};
  for (const [key, generate] of Object.entries(generators)) if (chance(rnd)) properties[key] = generate!();
  return Object.keys(properties).length === 0 ? undefined : (properties as Properties);
}

const reasonFrom = (rnd: Rnd, codes: readonly number[]): number => pick(rnd, codes);
const ACK_CODES = { puback: [0, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99], pubrel: [0, 0x92] };
const SUBACK_V5 = [0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_V5 = [0, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_V5 = [0, 4, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x93, 0x94, 0x95, 0x98, 0x9c, 0xa2];
const CONNACK_V5 = [0, 0x80, 0x81, 0x84, 0x85, 0x86, 0x87, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x9a, 0x9f];

export function randomPacket(type: PacketType, version: ProtocolVersion, rnd: Rnd): Packet {
  const v5 = version === 5;
  const reasonString = () => text(rnd);
  const user = () => userProperties(rnd);
  switch (type) {
    case 'connect': {
      const clean = chance(rnd);
      const hasWill = chance(rnd);
      const username = chance(rnd) ? text(rnd) : undefined;
      // 3.1.1 forbids a password without a user name [MQTT-3.1.2-22]; see mqtt-packet deviation 4 in differential.test.ts for 5.0.
      const password = (username !== undefined || v5) && chance(rnd) ? binary(rnd) : undefined;
      const authenticationMethod = chance(rnd, 0.3) ? text(rnd, 1) : undefined;
      const packet: Packet = {
        type,
        protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        bridge: version !== 5 && chance(rnd, 0.2),
        clean,
        keepalive: u16(rnd),
        // 3.1 needs a Client Identifier; an empty one needs Clean Start (mqtt-packet deviation 4).
        clientId: version === 3 || !clean ? text(rnd, 1, 23) : text(rnd, 0, 23),
      };
      if (hasWill) {
        packet.will = { topic: topicName(rnd), payload: binary(rnd, 100), qos: qos(rnd), retain: chance(rnd) };
        const willProperties = v5
          ? someProperties(rnd, {
              willDelayInterval: () => u32(rnd),
              payloadFormatIndicator: () => bit(rnd),
              messageExpiryInterval: () => u32(rnd),
              contentType: () => text(rnd),
              responseTopic: () => topicName(rnd),
              correlationData: () => binary(rnd),
              userProperties: user,
            })
          : undefined;
        if (willProperties !== undefined) packet.will.properties = willProperties;
      }
      if (username !== undefined) packet.username = username;
      if (password !== undefined) packet.password = password;
      const properties = v5
        ? someProperties(rnd, {
            sessionExpiryInterval: () => u32(rnd),
            receiveMaximum: () => u16(rnd, 1),
            maximumPacketSize: () => int(rnd, 1, 0xffffffff),
            topicAliasMaximum: () => u16(rnd),
            requestResponseInformation: () => bit(rnd),
            requestProblemInformation: () => bit(rnd),
            userProperties: user,
          })
        : undefined;
      if (authenticationMethod !== undefined) {
        const withAuth: Properties = { ...properties, authenticationMethod };
        if (chance(rnd)) withAuth.authenticationData = binary(rnd);
        packet.properties = withAuth;
      } else if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'connack': {
      const reasonCode = v5 ? reasonFrom(rnd, CONNACK_V5) : int(rnd, 0, 5);
      const packet: Packet = { type, sessionPresent: version !== 3 && reasonCode === 0 && chance(rnd), reasonCode };
      const properties = v5
        ? someProperties(rnd, {
            sessionExpiryInterval: () => u32(rnd),
            receiveMaximum: () => u16(rnd, 1),
            maximumQoS: () => bit(rnd),
            retainAvailable: () => bit(rnd),
            maximumPacketSize: () => int(rnd, 1, 0xffffffff),
            assignedClientIdentifier: () => text(rnd),
            topicAliasMaximum: () => u16(rnd),
            reasonString,
            userProperties: user,
            wildcardSubscriptionAvailable: () => bit(rnd),
            subscriptionIdentifiersAvailable: () => bit(rnd),
            sharedSubscriptionAvailable: () => bit(rnd),
            serverKeepAlive: () => u16(rnd),
            responseInformation: () => text(rnd),
            serverReference: () => text(rnd),
            authenticationMethod: () => text(rnd),
            authenticationData: () => binary(rnd),
          })
        : undefined;
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'publish': {
      const level = qos(rnd);
      const properties = v5
        ? someProperties(rnd, {
            payloadFormatIndicator: () => bit(rnd),
            messageExpiryInterval: () => u32(rnd),
            topicAlias: () => u16(rnd, 1),
            responseTopic: () => topicName(rnd),
            correlationData: () => binary(rnd),
            userProperties: user,
            subscriptionIdentifiers: () => Array.from({ length: int(rnd, 1, 3) }, () => int(rnd, 1, 268_435_455)),
            contentType: () => text(rnd),
          })
        : undefined;
      const emptyTopic = properties?.topicAlias !== undefined && chance(rnd, 0.3);
      const packet: Packet = {
        type,
        topic: emptyTopic ? '' : topicName(rnd),
        payload: binary(rnd, pick(rnd, [0, 10, 300, 20_000])),
        qos: level,
        retain: chance(rnd),
        dup: level > 0 && chance(rnd),
      };
      if (level > 0) packet.packetId = packetId(rnd);
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const packet: AckPacket<typeof type> = { type, packetId: packetId(rnd) };
      if (v5 && chance(rnd)) {
        packet.reasonCode = reasonFrom(rnd, type === 'puback' || type === 'pubrec' ? ACK_CODES.puback : ACK_CODES.pubrel);
        const properties = someProperties(rnd, { reasonString, userProperties: user });
        if (properties !== undefined) packet.properties = properties;
      }
      return packet;
    }
    case 'subscribe': {
      const subscriptions: SubscriptionRequest[] = Array.from({ length: int(rnd, 1, 5) }, () => {
        const noLocal = v5 && chance(rnd);
        return {
          // No Local on a Shared Subscription is a Protocol Error [MQTT-3.8.3-4].
          filter: !noLocal && chance(rnd, 0.1) ? `$share/${level(rnd) || 'g'}/${topicFilter(rnd)}` : topicFilter(rnd),
          qos: qos(rnd),
          noLocal,
          retainAsPublished: v5 && chance(rnd),
          retainHandling: v5 ? (int(rnd, 0, 2) as 0 | 1 | 2) : 0,
        };
      });
      const packet: Packet = { type, packetId: packetId(rnd), subscriptions };
      const properties = v5
        ? someProperties(rnd, { subscriptionIdentifiers: () => [int(rnd, 1, 268_435_455)], userProperties: user })
        : undefined;
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'suback': {
      const codes = v5 ? SUBACK_V5 : [0, 1, 2, 0x80];
      const packet: Packet = { type, packetId: packetId(rnd), reasonCodes: Array.from({ length: int(rnd, 1, 5) }, () => pick(rnd, codes)) };
      const properties = v5 ? someProperties(rnd, { reasonString, userProperties: user }) : undefined;
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'unsubscribe': {
      const packet: Packet = { type, packetId: packetId(rnd), filters: Array.from({ length: int(rnd, 1, 5) }, () => topicFilter(rnd)) };
      const properties = v5 ? someProperties(rnd, { userProperties: user }) : undefined;
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'unsuback': {
      if (!v5) return { type, packetId: packetId(rnd) };
      const packet: Packet = { type, packetId: packetId(rnd), reasonCodes: Array.from({ length: int(rnd, 1, 5) }, () => pick(rnd, UNSUBACK_V5)) };
      const properties = someProperties(rnd, { reasonString, userProperties: user });
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'pingreq':
    case 'pingresp':
      return { type };
    case 'disconnect': {
      if (!v5 || chance(rnd, 0.2)) return { type };
      const packet: Packet = { type, reasonCode: reasonFrom(rnd, DISCONNECT_V5) };
      const properties = someProperties(rnd, {
        sessionExpiryInterval: () => u32(rnd),
        reasonString,
        userProperties: user,
        serverReference: () => text(rnd),
      });
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case 'auth': {
      if (chance(rnd, 0.2)) return { type };
      const packet: Packet = { type, reasonCode: pick(rnd, [0, 0x18, 0x19]) };
      const properties = someProperties(rnd, {
        authenticationMethod: () => text(rnd, 1),
        authenticationData: () => binary(rnd),
        reasonString,
        userProperties: user,
      });
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
  }
}
