// MQTT 5 properties (§2.2.2): the table of identifiers, their data types and the packets each may
// appear in, and their decoding and encoding. Names follow Properties in packets.ts.

import type { Properties, UserProperty } from './packets.js';
import { ReasonCode } from './reason-codes.js';
import type { PacketReader } from './packet-reader.js';
import { binaryFieldSize, stringFieldSize, varIntSize, writeBinary, writeString, writeVarInt } from './wire.js';

/** Property identifiers (MQTT 5.0 §2.2.2.2, Table 2-4). */
export const PropertyId = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifierAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const;

/** The data types of §1.5 that property values use. */
export const PropertyType = {
  Byte: 1,
  TwoByteInteger: 2,
  FourByteInteger: 3,
  VariableByteInteger: 4,
  Utf8String: 5,
  BinaryData: 6,
  Utf8StringPair: 7,
} as const;
type PropertyTypeValue = (typeof PropertyType)[keyof typeof PropertyType];

/** Where a property section can be: every packet type that has one, plus the Will Properties of CONNECT. */
export const PropertyContext = {
  connect: 1 << 0,
  connack: 1 << 1,
  publish: 1 << 2,
  will: 1 << 3,
  puback: 1 << 4,
  pubrec: 1 << 5,
  pubrel: 1 << 6,
  pubcomp: 1 << 7,
  subscribe: 1 << 8,
  suback: 1 << 9,
  unsubscribe: 1 << 10,
  unsuback: 1 << 11,
  disconnect: 1 << 12,
  auth: 1 << 13,
} as const;
export type PropertyContextName = keyof typeof PropertyContext;

const C = PropertyContext;
const ACKS = C.puback | C.pubrec | C.pubrel | C.pubcomp;
const ALL = (1 << 14) - 1;

type PropertyKey = keyof Properties;

interface PropertyDefinition {
  readonly id: number;
  readonly key: PropertyKey;
  readonly type: PropertyTypeValue;
  /** Contexts (PropertyContext bits) the property is allowed in. */
  readonly contexts: number;
  /** Bit used to spot a second occurrence while decoding; 27 properties fit in 32 bits. */
  readonly bit: number;
}

const T = PropertyType;
// [id, key, type, contexts] exactly as Table 2-4 lists them.
const TABLE: ReadonlyArray<readonly [number, PropertyKey, PropertyTypeValue, number]> = [
  [PropertyId.PayloadFormatIndicator, 'payloadFormatIndicator', T.Byte, C.publish | C.will],
  [PropertyId.MessageExpiryInterval, 'messageExpiryInterval', T.FourByteInteger, C.publish | C.will],
  [PropertyId.ContentType, 'contentType', T.Utf8String, C.publish | C.will],
  [PropertyId.ResponseTopic, 'responseTopic', T.Utf8String, C.publish | C.will],
  [PropertyId.CorrelationData, 'correlationData', T.BinaryData, C.publish | C.will],
  [PropertyId.SubscriptionIdentifier, 'subscriptionIdentifiers', T.VariableByteInteger, C.publish | C.subscribe],
  [PropertyId.SessionExpiryInterval, 'sessionExpiryInterval', T.FourByteInteger, C.connect | C.connack | C.disconnect],
  [PropertyId.AssignedClientIdentifier, 'assignedClientIdentifier', T.Utf8String, C.connack],
  [PropertyId.ServerKeepAlive, 'serverKeepAlive', T.TwoByteInteger, C.connack],
  [PropertyId.AuthenticationMethod, 'authenticationMethod', T.Utf8String, C.connect | C.connack | C.auth],
  [PropertyId.AuthenticationData, 'authenticationData', T.BinaryData, C.connect | C.connack | C.auth],
  [PropertyId.RequestProblemInformation, 'requestProblemInformation', T.Byte, C.connect],
  [PropertyId.WillDelayInterval, 'willDelayInterval', T.FourByteInteger, C.will],
  [PropertyId.RequestResponseInformation, 'requestResponseInformation', T.Byte, C.connect],
  [PropertyId.ResponseInformation, 'responseInformation', T.Utf8String, C.connack],
  [PropertyId.ServerReference, 'serverReference', T.Utf8String, C.connack | C.disconnect],
  [
    PropertyId.ReasonString,
    'reasonString',
    T.Utf8String,
    C.connack | ACKS | C.suback | C.unsuback | C.disconnect | C.auth,
  ],
  [PropertyId.ReceiveMaximum, 'receiveMaximum', T.TwoByteInteger, C.connect | C.connack],
  [PropertyId.TopicAliasMaximum, 'topicAliasMaximum', T.TwoByteInteger, C.connect | C.connack],
  [PropertyId.TopicAlias, 'topicAlias', T.TwoByteInteger, C.publish],
  [PropertyId.MaximumQoS, 'maximumQoS', T.Byte, C.connack],
  [PropertyId.RetainAvailable, 'retainAvailable', T.Byte, C.connack],
  [PropertyId.UserProperty, 'userProperties', T.Utf8StringPair, ALL],
  [PropertyId.MaximumPacketSize, 'maximumPacketSize', T.FourByteInteger, C.connect | C.connack],
  [PropertyId.WildcardSubscriptionAvailable, 'wildcardSubscriptionAvailable', T.Byte, C.connack],
  [PropertyId.SubscriptionIdentifierAvailable, 'subscriptionIdentifiersAvailable', T.Byte, C.connack],
  [PropertyId.SharedSubscriptionAvailable, 'sharedSubscriptionAvailable', T.Byte, C.connack],
];

const DEFINITIONS: readonly PropertyDefinition[] = TABLE.map(([id, key, type, contexts], bit) => ({
  id,
  key,
  type,
  contexts,
  bit,
}));

/** Identifier → definition; every identifier is one byte in MQTT 5.0 (§2.2.2.2 comment). */
const BY_ID: ReadonlyArray<PropertyDefinition | undefined> = (() => {
  const byId: Array<PropertyDefinition | undefined> = new Array(0x2b).fill(undefined);
  for (const definition of DEFINITIONS) byId[definition.id] = definition;
  return byId;
})();

/** For the writer: key in Properties → definition. */
const BY_KEY = new Map<string, PropertyDefinition>(DEFINITIONS.map((definition) => [definition.key, definition]));

/** Properties whose value must be 0 or 1 ("It is a Protocol Error ... to have a value other than 0 or 1"). */
const BOOLEAN_BYTE = new Set<number>([
  PropertyId.PayloadFormatIndicator,
  PropertyId.RequestProblemInformation,
  PropertyId.RequestResponseInformation,
  PropertyId.MaximumQoS,
  PropertyId.RetainAvailable,
  PropertyId.WildcardSubscriptionAvailable,
  PropertyId.SubscriptionIdentifierAvailable,
  PropertyId.SharedSubscriptionAvailable,
]);

function contextName(context: number): string {
  for (const [name, bit] of Object.entries(PropertyContext)) if (bit === context) return name;
  return 'packet';
}

/**
 * Reads a property section (Property Length + properties) at the reader's position.
 * Returns undefined for an empty section, so that packets without properties carry none.
 * Malformed: unknown identifier, identifier not allowed in this context (§2.2.2.2), a value that runs past
 * the section. Protocol Error: a repeated property (all but User Property, and Subscription Identifier on
 * PUBLISH [MQTT-3.3.4-4]), a value out of its stated range.
 */
export function readProperties(r: PacketReader, context: number): Properties | undefined {
  const length = r.varInt('Property Length');
  if (length === 0) return undefined;
  if (length > r.remaining) r.malformed(`Property Length ${length} runs past the end of the packet`);
  const sectionEnd = r.pos + length;
  const packetEnd = r.end;
  r.end = sectionEnd; // a value straddling the section end reads as truncated
  const properties: Properties = {};
  let seen = 0;
  while (r.pos < sectionEnd) {
    const id = r.varInt('Property Identifier');
    const definition = id < BY_ID.length ? BY_ID[id] : undefined;
    if (definition === undefined) r.malformed(`unknown property identifier 0x${id.toString(16)}`);
    if ((definition.contexts & context) === 0) {
      r.malformed(`property ${definition.key} (0x${id.toString(16)}) is not allowed in ${contextName(context)}`);
    }
    const bit = 1 << definition.bit;
    if ((seen & bit) !== 0 && id !== PropertyId.UserProperty) {
      // Several Subscription Identifiers on one PUBLISH when several subscriptions match [MQTT-3.3.4-4].
      if (!(id === PropertyId.SubscriptionIdentifier && context === PropertyContext.publish)) {
        r.protocolError(`property ${definition.key} appears more than once`);
      }
    }
    seen |= bit;
    readValue(r, definition, properties);
  }
  r.end = packetEnd;
  return properties;
}

function readValue(r: PacketReader, definition: PropertyDefinition, properties: Properties): void {
  const { id, key } = definition;
  switch (definition.type) {
    case PropertyType.Byte: {
      const value = r.u8(key);
      if (BOOLEAN_BYTE.has(id) && value > 1) r.protocolError(`${key} must be 0 or 1, got ${value}`);
      (properties as Record<string, unknown>)[key] = value;
      return;
    }
    case PropertyType.TwoByteInteger: {
      const value = r.u16(key);
      if (value === 0) {
        if (id === PropertyId.ReceiveMaximum) r.protocolError('Receive Maximum must not be 0');
        // A Topic Alias of 0 is not permitted [MQTT-3.3.2-8].
        if (id === PropertyId.TopicAlias) r.fail(ReasonCode.TopicAliasInvalid, 'Topic Alias 0 is not permitted', 'MQTT-3.3.2-8');
      }
      (properties as Record<string, unknown>)[key] = value;
      return;
    }
    case PropertyType.FourByteInteger: {
      const value = r.u32(key);
      if (value === 0 && id === PropertyId.MaximumPacketSize) r.protocolError('Maximum Packet Size must not be 0');
      (properties as Record<string, unknown>)[key] = value;
      return;
    }
    case PropertyType.VariableByteInteger: {
      // Only the Subscription Identifier has this type: 1..268,435,455, 0 is a Protocol Error (§3.3.2.3.8).
      const value = r.varInt(key);
      if (value === 0) r.protocolError('Subscription Identifier must not be 0');
      (properties.subscriptionIdentifiers ??= []).push(value);
      return;
    }
    case PropertyType.Utf8String:
      (properties as Record<string, unknown>)[key] = r.utf8(key);
      return;
    case PropertyType.BinaryData:
      (properties as Record<string, unknown>)[key] = r.binary(key, false);
      return;
    case PropertyType.Utf8StringPair: {
      // Both strings follow the UTF-8 string rules [MQTT-1.5.7-1].
      const pair: UserProperty = [r.utf8('User Property name'), r.utf8('User Property value')];
      (properties.userProperties ??= []).push(pair);
      return;
    }
  }
}

/**
 * Size in bytes of the properties allowed in this context (without the Property Length prefix).
 * Properties not allowed in the context are not written: writing them would make the packet malformed.
 * In every context but PUBLISH only the first Subscription Identifier is written (one per SUBSCRIBE).
 * Both passes walk the object's own keys with for-in, which V8 serves from its enum cache: a PUBLISH
 * usually carries one or two properties, so this beats probing every name allowed in the context: the
 * two passes for two PUBLISH properties went from about 260 ns to about 150 ns (docs/BENCHMARKS.md).
 */
export function propertiesSize(properties: Properties | undefined, context: number): number {
  if (properties === undefined) return 0;
  let size = 0;
  for (const key in properties) {
    const value = properties[key as PropertyKey];
    const definition = BY_KEY.get(key);
    if (value === undefined || definition === undefined || (definition.contexts & context) === 0) continue;
    switch (definition.type) {
      case PropertyType.Byte:
        size += 2;
        break;
      case PropertyType.TwoByteInteger:
        size += 3;
        break;
      case PropertyType.FourByteInteger:
        size += 5;
        break;
      case PropertyType.VariableByteInteger: {
        const ids = value as number[];
        const count = context === PropertyContext.publish ? ids.length : Math.min(ids.length, 1);
        for (let j = 0; j < count; j++) size += 1 + varIntSize(ids[j]!);
        break;
      }
      case PropertyType.Utf8String:
        size += 1 + stringFieldSize(value as string);
        break;
      case PropertyType.BinaryData:
        size += 1 + binaryFieldSize(value as Buffer);
        break;
      case PropertyType.Utf8StringPair: {
        const pairs = value as UserProperty[];
        for (let j = 0; j < pairs.length; j++) {
          const pair = pairs[j]!;
          size += 1 + stringFieldSize(pair[0]) + stringFieldSize(pair[1]);
        }
        break;
      }
    }
  }
  return size;
}

/** Writes Property Length then the properties; `size` is what propertiesSize returned. */
export function writeProperties(buf: Buffer, pos: number, properties: Properties | undefined, context: number, size: number): number {
  pos = writeVarInt(buf, pos, size);
  if (properties === undefined || size === 0) return pos;
  for (const key in properties) {
    const value = properties[key as PropertyKey];
    const definition = BY_KEY.get(key);
    if (value === undefined || definition === undefined || (definition.contexts & context) === 0) continue;
    const id = definition.id;
    switch (definition.type) {
      case PropertyType.Byte:
        buf[pos++] = id;
        buf.writeUInt8(value as number, pos++);
        break;
      case PropertyType.TwoByteInteger:
        buf[pos++] = id;
        pos = buf.writeUInt16BE(value as number, pos);
        break;
      case PropertyType.FourByteInteger:
        buf[pos++] = id;
        pos = buf.writeUInt32BE(value as number, pos);
        break;
      case PropertyType.VariableByteInteger: {
        const ids = value as number[];
        const count = context === PropertyContext.publish ? ids.length : Math.min(ids.length, 1);
        for (let j = 0; j < count; j++) {
          buf[pos++] = id;
          pos = writeVarInt(buf, pos, ids[j]!);
        }
        break;
      }
      case PropertyType.Utf8String:
        buf[pos++] = id;
        pos = writeString(buf, pos, value as string);
        break;
      case PropertyType.BinaryData:
        buf[pos++] = id;
        pos = writeBinary(buf, pos, value as Buffer);
        break;
      case PropertyType.Utf8StringPair: {
        const pairs = value as UserProperty[];
        for (let j = 0; j < pairs.length; j++) {
          const pair = pairs[j]!;
          buf[pos++] = id;
          pos = writeString(buf, pos, pair[0]);
          pos = writeString(buf, pos, pair[1]);
        }
        break;
      }
    }
  }
  return pos;
}
