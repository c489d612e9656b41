// The mapping between our packet model and mqtt-packet's, and the comparable (normalized) form of a
// packet, for the differential test. The deviations it works around are listed in differential.test.ts.

import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type {
  AckPacket,
  AuthPacket,
  DisconnectPacket,
  Packet,
  PacketType,
  Properties,
  ProtocolVersion,
  QoS,
  UnsubackPacket,
  UserProperty,
} from '../../src/protocol/packets.js';

type Theirs = Record<string, unknown>;
type TheirUserProperties = Record<string, string | string[]>;

/** mqtt-packet reads and writes these single-byte properties as booleans. */
const BOOLEAN_PROPERTIES = new Set([
  'payloadFormatIndicator',
  'requestResponseInformation',
  'requestProblemInformation',
  'retainAvailable',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifiersAvailable',
  'sharedSubscriptionAvailable',
]);

/** Stable sort of the pairs by name: the order mqtt-packet can keep (mqtt-packet deviation 2 in differential.test.ts). */
function groupUserProperties(pairs: readonly UserProperty[]): UserProperty[] {
  return [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function propertiesToTheirs(properties: Properties | undefined): Theirs | undefined {
  if (properties === undefined) return undefined;
  const out: Theirs = {};
  for (const [key, value] of Object.entries(properties)) {
    if (key === 'userProperties') {
      const grouped: TheirUserProperties = {};
      for (const [name, item] of value as UserProperty[]) {
        const existing = grouped[name];
        grouped[name] = existing === undefined ? item : Array.isArray(existing) ? [...existing, item] : [existing, item];
      }
      out[key] = grouped;
    } else if (key === 'subscriptionIdentifiers') {
      const ids = value as number[];
      out['subscriptionIdentifier'] = ids.length === 1 ? ids[0] : ids;
    } else if (BOOLEAN_PROPERTIES.has(key)) out[key] = value === 1;
    else out[key] = value;
  }
  return out;
}

function propertiesFromTheirs(properties: unknown): Properties | undefined {
  if (properties === undefined || properties === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties as Theirs)) {
    if (key === 'userProperties') {
      out[key] = Object.entries(value as TheirUserProperties).flatMap(([name, item]) =>
        (Array.isArray(item) ? item : [item]).map((v) => [name, v] as const),
      );
    } else if (key === 'subscriptionIdentifier') out['subscriptionIdentifiers'] = Array.isArray(value) ? value : [value];
    else if (BOOLEAN_PROPERTIES.has(key)) out[key] = value ? 1 : 0;
    else out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : (out as Properties);
}

function withProperties(object: Theirs, properties: Properties | undefined): Theirs {
  const mapped = propertiesToTheirs(properties);
  if (mapped !== undefined) object['properties'] = mapped;
  return object;
}

export function toTheirs(packet: Packet): Theirs {
  switch (packet.type) {
    case 'connect': {
      const out: Theirs = {
        cmd: 'connect',
        protocolId: packet.protocolName,
        protocolVersion: packet.protocolVersion,
        clean: packet.clean,
        keepalive: packet.keepalive,
        clientId: packet.clientId,
      };
      if (packet.bridge) out['bridgeMode'] = true;
      if (packet.will !== undefined) {
        out['will'] = withProperties(
          { topic: packet.will.topic, payload: packet.will.payload, qos: packet.will.qos, retain: packet.will.retain },
          packet.will.properties,
        );
      }
      if (packet.username !== undefined) out['username'] = packet.username;
      if (packet.password !== undefined) out['password'] = packet.password;
      return withProperties(out, packet.properties);
    }
    case 'connack':
      return withProperties(
        { cmd: 'connack', sessionPresent: packet.sessionPresent, reasonCode: packet.reasonCode, returnCode: packet.reasonCode },
        packet.properties,
      );
    case 'publish': {
      const out: Theirs = { cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: packet.dup };
      if (packet.packetId !== undefined) out['messageId'] = packet.packetId;
      return withProperties(out, packet.properties);
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return withProperties({ cmd: packet.type, messageId: packet.packetId, reasonCode: packet.reasonCode ?? 0 }, packet.properties);
    case 'subscribe':
      return withProperties(
        {
          cmd: 'subscribe',
          messageId: packet.packetId,
          subscriptions: packet.subscriptions.map((s) => ({ topic: s.filter, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling })),
        },
        packet.properties,
      );
    case 'suback':
      return withProperties({ cmd: 'suback', messageId: packet.packetId, granted: packet.reasonCodes }, packet.properties);
    case 'unsubscribe':
      return withProperties({ cmd: 'unsubscribe', messageId: packet.packetId, unsubscriptions: packet.filters }, packet.properties);
    case 'unsuback':
      return withProperties({ cmd: 'unsuback', messageId: packet.packetId, granted: packet.reasonCodes ?? [] }, packet.properties);
    case 'pingreq':
    case 'pingresp':
      return { cmd: packet.type };
    case 'disconnect':
    case 'auth':
      return withProperties({ cmd: packet.type, reasonCode: packet.reasonCode ?? 0 }, packet.properties);
  }
}

export function fromTheirs(their: Theirs, version: ProtocolVersion): Packet {
  const properties = propertiesFromTheirs(their['properties']);
  const withProps = <P extends Packet>(packet: P): P => {
    if (properties !== undefined) (packet as { properties?: Properties }).properties = properties;
    return packet;
  };
  const type = their['cmd'] as PacketType;
  switch (type) {
    case 'connect': {
      const packet: Packet = {
        type,
        protocolName: their['protocolId'] as string,
        protocolVersion: their['protocolVersion'] as ProtocolVersion,
        bridge: their['bridgeMode'] === true,
        clean: their['clean'] as boolean,
        keepalive: their['keepalive'] as number,
        clientId: their['clientId'] as string,
      };
      const will = their['will'] as Theirs | undefined;
      if (will !== undefined) {
        packet.will = { topic: will['topic'] as string, payload: will['payload'] as Buffer, qos: will['qos'] as QoS, retain: will['retain'] as boolean };
        const willProperties = propertiesFromTheirs(will['properties']);
        if (willProperties !== undefined) packet.will.properties = willProperties;
      }
      if (their['username'] !== undefined) packet.username = their['username'] as string;
      if (their['password'] !== undefined) packet.password = their['password'] as Buffer;
      return withProps(packet);
    }
    case 'connack':
      return withProps({
        type,
        sessionPresent: their['sessionPresent'] as boolean,
        reasonCode: (version === 5 ? their['reasonCode'] : their['returnCode']) as number,
      });
    case 'publish': {
      const packet: Packet = {
        type,
        topic: their['topic'] as string,
        payload: their['payload'] as Buffer,
        qos: their['qos'] as QoS,
        retain: their['retain'] as boolean,
        dup: their['dup'] as boolean,
      };
      if (packet.qos > 0) packet.packetId = their['messageId'] as number;
      return withProps(packet);
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const packet: AckPacket<typeof type> = { type, packetId: their['messageId'] as number };
      if (version === 5) packet.reasonCode = their['reasonCode'] as number;
      return withProps(packet);
    }
    case 'subscribe':
      return withProps({
        type,
        packetId: their['messageId'] as number,
        subscriptions: (their['subscriptions'] as Theirs[]).map((s) => ({
          filter: s['topic'] as string,
          qos: s['qos'] as QoS,
          noLocal: s['nl'] === true,
          retainAsPublished: s['rap'] === true,
          retainHandling: ((s['rh'] as number | undefined) ?? 0) as 0 | 1 | 2,
        })),
      });
    case 'suback':
      return withProps({ type, packetId: their['messageId'] as number, reasonCodes: their['granted'] as number[] });
    case 'unsubscribe':
      return withProps({ type, packetId: their['messageId'] as number, filters: their['unsubscriptions'] as string[] });
    case 'unsuback': {
      const packet: UnsubackPacket = { type, packetId: their['messageId'] as number };
      if (version === 5) packet.reasonCodes = their['granted'] as number[];
      return withProps(packet);
    }
    case 'pingreq':
    case 'pingresp':
      return { type };
    case 'disconnect':
    case 'auth': {
      const packet: DisconnectPacket | AuthPacket = { type };
      if (version === 5) packet.reasonCode = their['reasonCode'] as number;
      return withProps(packet);
    }
  }
}

/** The comparable form: what survives a trip through either codec at this version. */
export function normalize(packet: Packet, version: ProtocolVersion): Packet {
  const copy = { ...packet } as Packet & { properties?: Properties; reasonCode?: number; reasonCodes?: number[] };
  if (version !== 5) {
    delete copy.properties;
    if (copy.type !== 'connack' && copy.type !== 'suback') delete copy.reasonCode;
    if (copy.type === 'unsuback') delete copy.reasonCodes;
    if (copy.type === 'connect' && copy.will !== undefined) {
      copy.will = { ...copy.will };
      delete copy.will.properties;
    }
  } else if (['puback', 'pubrec', 'pubrel', 'pubcomp', 'disconnect', 'auth'].includes(copy.type)) {
    copy.reasonCode ??= 0; // absent means 0x00 in our model
  }
  const group = (properties: Properties | undefined): Properties | undefined =>
    properties?.userProperties === undefined ? properties : { ...properties, userProperties: groupUserProperties(properties.userProperties) };
  if (copy.properties !== undefined) copy.properties = group(copy.properties);
  if (copy.type === 'connect' && copy.will?.properties !== undefined) copy.will = { ...copy.will, properties: group(copy.will.properties)! };
  return copy;
}

export function theirParse(bytes: Buffer, version: ProtocolVersion): Theirs {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Theirs[] = [];
  const errors: Error[] = [];
  parser.on('packet', (packet) => packets.push(packet as unknown as Theirs));
  parser.on('error', (error: Error) => errors.push(error));
  parser.parse(bytes);
  assert.deepEqual(errors, [], 'mqtt-packet parses our bytes without error');
  assert.equal(packets.length, 1, 'mqtt-packet sees exactly one packet');
  return packets[0]!;
}
