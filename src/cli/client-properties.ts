// `-D/--property COMMAND NAME VALUE`: MQTT v5 properties named as Mosquitto names them, checked the
// way libmosquitto checks them (client_props.c, property_mosq.c), then shaped for MQTT.js packets.

import type { IConnectPacket, IDisconnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, UserProperties } from 'mqtt-packet';

type PropertyType = 'byte' | 'int16' | 'int32' | 'varint' | 'binary' | 'string' | 'string-pair';

/** Packet kinds a -D switch can name (mosquitto_string_to_command). */
const commandNames = [
  'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'disconnect', 'auth', 'will',
] as const;
type PropertyCommand = (typeof commandNames)[number];

/** The commands whose properties the clients send; the rest parse but are refused. */
export type SendableCommand = 'connect' | 'publish' | 'subscribe' | 'unsubscribe' | 'disconnect' | 'will';

interface PropertyInfo {
  readonly type: PropertyType;
  /** Packets the property may appear in (MQTT 5.0 §2.2.2.2). */
  readonly commands: readonly PropertyCommand[];
}

const everyCommand = commandNames;
const properties: Readonly<Record<string, PropertyInfo>> = {
  'payload-format-indicator': { type: 'byte', commands: ['publish', 'will'] },
  'message-expiry-interval': { type: 'int32', commands: ['publish', 'will'] },
  'content-type': { type: 'string', commands: ['publish', 'will'] },
  'response-topic': { type: 'string', commands: ['publish', 'will'] },
  'correlation-data': { type: 'binary', commands: ['publish', 'will'] },
  'subscription-identifier': { type: 'varint', commands: ['publish', 'subscribe'] },
  'session-expiry-interval': { type: 'int32', commands: ['connect', 'connack', 'disconnect'] },
  'assigned-client-identifier': { type: 'string', commands: ['connack'] },
  'server-keep-alive': { type: 'int16', commands: ['connack'] },
  'authentication-method': { type: 'string', commands: ['connect', 'connack', 'auth'] },
  'authentication-data': { type: 'binary', commands: ['connect', 'connack', 'auth'] },
  'request-problem-information': { type: 'byte', commands: ['connect'] },
  'will-delay-interval': { type: 'int32', commands: ['will'] },
  'request-response-information': { type: 'byte', commands: ['connect'] },
  'response-information': { type: 'string', commands: ['connack'] },
  'server-reference': { type: 'string', commands: ['connack', 'disconnect'] },
  'reason-string': {
    type: 'string',
    commands: ['connack', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback', 'disconnect', 'auth'],
  },
  'receive-maximum': { type: 'int16', commands: ['connect', 'connack'] },
  'topic-alias-maximum': { type: 'int16', commands: ['connect', 'connack'] },
  'topic-alias': { type: 'int16', commands: ['publish'] },
  'maximum-qos': { type: 'byte', commands: ['connack'] },
  'retain-available': { type: 'byte', commands: ['connack'] },
  'user-property': { type: 'string-pair', commands: everyCommand },
  'maximum-packet-size': { type: 'int32', commands: ['connect', 'connack'] },
  'wildcard-subscription-available': { type: 'byte', commands: ['connack'] },
  'subscription-identifier-available': { type: 'byte', commands: ['connack'] },
  'shared-subscription-available': { type: 'byte', commands: ['connack'] },
};

export interface PropertyEntry {
  /** Mosquitto's property name, lower case, e.g. "message-expiry-interval". */
  readonly name: string;
  readonly value: number | string | Buffer | readonly [string, string];
}

export type PropertyLists = Record<SendableCommand, PropertyEntry[]>;

export function emptyPropertyLists(): PropertyLists {
  return { connect: [], publish: [], subscribe: [], unsubscribe: [], disconnect: [], will: [] };
}

/** C's strtoll(value, &end, 0) accepting only a whole number (decimal, 0x hex or 0 octal). */
export function parseCInteger(text: string): number | undefined {
  const match = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!match) return undefined;
  const digits = match[2]!;
  const magnitude = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : Number(digits);
  return match[1] === '-' ? -magnitude : magnitude;
}

/** C's atol(): leading digits, or 0. */
export function atoi(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * Parses the arguments after a -D switch into `lists`.
 * Returns how many arguments were used, or the error text mosquitto prints.
 */
export function parsePropertyArgs(args: readonly string[], lists: PropertyLists): { used: number } | { error: string } {
  const notEnough = { error: 'Error: --property argument given but not enough arguments specified.\n\n' };
  if (args.length < 3) return notEnough;
  const [commandArg, nameArg] = args as [string, string];
  const command = commandNames.find((c) => c === commandArg.toLowerCase());
  if (!command) return { error: 'Error: Invalid command given in --property argument.\n\n' };
  const name = nameArg.toLowerCase();
  const info = properties[name];
  if (!info) return { error: 'Error: Invalid property name given in --property argument.\n\n' };
  if (!info.commands.includes(command)) {
    return { error: `Error: ${nameArg} property not allowed for ${commandArg} in --property argument.\n\n` };
  }
  const pair = info.type === 'string-pair';
  if (pair && args.length < 4) return notEnough;
  const value = pair ? args[3]! : args[2]!;
  const notSupported = { error: `Error: ${nameArg} property not supported for ${commandArg} in --property argument.\n\n` };
  if (command === 'publish' && name === 'subscription-identifier') return notSupported;
  if (command !== 'connect' && command !== 'publish' && command !== 'subscribe' && command !== 'unsubscribe'
    && command !== 'disconnect' && command !== 'will') {
    return notSupported;
  }

  let parsed: PropertyEntry['value'];
  switch (info.type) {
    case 'byte':
    case 'int16': {
      const number = atoi(value);
      if (number < 0 || number > (info.type === 'byte' ? 0xff : 0xffff)) {
        return { error: `Error: Property value (${number}) out of range for property ${nameArg}.\n\n` };
      }
      parsed = number;
      break;
    }
    case 'int32':
    case 'varint': {
      const number = parseCInteger(value);
      if (number === undefined) return { error: `Error: Property value '${value}' not a number.\n\n` };
      if (number < 0 || number > 0xffffffff) {
        return { error: `Error: Property value (${number}) out of range for property ${nameArg}.\n\n` };
      }
      parsed = number;
      break;
    }
    case 'binary':
      if (Buffer.byteLength(value) > 0xffff) return { error: `Error: Property value too long for property ${nameArg}.\n\n` };
      parsed = Buffer.from(value, 'utf8');
      break;
    case 'string':
      parsed = value;
      break;
    case 'string-pair':
      parsed = [args[2]!, value];
      break;
  }
  lists[command].push({ name, value: parsed });
  return { used: pair ? 4 : 3 };
}

const listTitles: Readonly<Record<SendableCommand, string>> = {
  connect: 'CONNECT', publish: 'PUBLISH', subscribe: 'SUBSCRIBE', unsubscribe: 'UNSUBSCRIBE', disconnect: 'DISCONNECT', will: 'Will',
};
const protocolErrorText = 'A network protocol error occurred when communicating with the broker.';

/** Values the spec forbids, as mosquitto_property_check_all() rejects them. */
function invalidValue(entry: PropertyEntry): boolean {
  const n = typeof entry.value === 'number' ? entry.value : undefined;
  switch (entry.name) {
    case 'payload-format-indicator':
    case 'request-problem-information':
    case 'request-response-information':
      return n !== 0 && n !== 1;
    case 'receive-maximum':
    case 'topic-alias':
    case 'maximum-packet-size':
      return n === 0;
    case 'subscription-identifier':
      return n === 0 || (n !== undefined && n > 268435455);
    default:
      return false;
  }
}

/** The first property list error, worded as "Error in PUBLISH properties: …". */
export function checkPropertyLists(lists: PropertyLists): string | undefined {
  for (const command of Object.keys(listTitles) as SendableCommand[]) {
    const seen = new Set<string>();
    for (const entry of lists[command]) {
      if (invalidValue(entry)) return `Error in ${listTitles[command]} properties: ${protocolErrorText}\n`;
      if (entry.name !== 'user-property' && seen.has(entry.name)) {
        return `Error in ${listTitles[command]} properties: Duplicate property in property list\n`;
      }
      seen.add(entry.name);
    }
  }
  return undefined;
}

function userProperties(list: readonly PropertyEntry[]): UserProperties | undefined {
  const result: UserProperties = {};
  let any = false;
  for (const entry of list) {
    if (entry.name !== 'user-property' || !Array.isArray(entry.value)) continue;
    const [key, value] = entry.value as readonly [string, string];
    const existing = result[key];
    result[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    any = true;
  }
  return any ? result : undefined;
}

function numberOf(list: readonly PropertyEntry[], name: string): number | undefined {
  const value = list.find((e) => e.name === name)?.value;
  return typeof value === 'number' ? value : undefined;
}
function stringOf(list: readonly PropertyEntry[], name: string): string | undefined {
  const value = list.find((e) => e.name === name)?.value;
  return typeof value === 'string' ? value : undefined;
}
function bufferOf(list: readonly PropertyEntry[], name: string): Buffer | undefined {
  const value = list.find((e) => e.name === name)?.value;
  return Buffer.isBuffer(value) ? value : undefined;
}
function flagOf(list: readonly PropertyEntry[], name: string): boolean | undefined {
  const value = numberOf(list, name);
  return value === undefined ? undefined : value === 1;
}

/** Drops undefined fields so packets carry only what the user gave. */
function defined<T extends object>(value: T): T | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return entries.length ? (Object.fromEntries(entries) as T) : undefined;
}

export function connectProperties(list: readonly PropertyEntry[]): IConnectPacket['properties'] {
  return defined<NonNullable<IConnectPacket['properties']>>({
    sessionExpiryInterval: numberOf(list, 'session-expiry-interval'),
    receiveMaximum: numberOf(list, 'receive-maximum'),
    maximumPacketSize: numberOf(list, 'maximum-packet-size'),
    topicAliasMaximum: numberOf(list, 'topic-alias-maximum'),
    requestResponseInformation: flagOf(list, 'request-response-information'),
    requestProblemInformation: flagOf(list, 'request-problem-information'),
    userProperties: userProperties(list),
    authenticationMethod: stringOf(list, 'authentication-method'),
    authenticationData: bufferOf(list, 'authentication-data'),
  });
}

export function publishProperties(list: readonly PropertyEntry[]): IPublishPacket['properties'] {
  return defined<NonNullable<IPublishPacket['properties']>>({
    payloadFormatIndicator: flagOf(list, 'payload-format-indicator'),
    messageExpiryInterval: numberOf(list, 'message-expiry-interval'),
    topicAlias: numberOf(list, 'topic-alias'),
    responseTopic: stringOf(list, 'response-topic'),
    correlationData: bufferOf(list, 'correlation-data'),
    userProperties: userProperties(list),
    contentType: stringOf(list, 'content-type'),
  });
}

type WillProperties = NonNullable<NonNullable<IConnectPacket['will']>['properties']>;
export function willProperties(list: readonly PropertyEntry[]): WillProperties | undefined {
  return defined<WillProperties>({
    willDelayInterval: numberOf(list, 'will-delay-interval'),
    payloadFormatIndicator: flagOf(list, 'payload-format-indicator'),
    messageExpiryInterval: numberOf(list, 'message-expiry-interval'),
    contentType: stringOf(list, 'content-type'),
    responseTopic: stringOf(list, 'response-topic'),
    correlationData: bufferOf(list, 'correlation-data'),
    userProperties: userProperties(list),
  });
}

export function subscribeProperties(list: readonly PropertyEntry[]): ISubscribePacket['properties'] {
  return defined<NonNullable<ISubscribePacket['properties']>>({
    subscriptionIdentifier: numberOf(list, 'subscription-identifier'),
    userProperties: userProperties(list),
  });
}

export function unsubscribeProperties(list: readonly PropertyEntry[]): IUnsubscribePacket['properties'] {
  return defined<NonNullable<IUnsubscribePacket['properties']>>({ userProperties: userProperties(list) });
}

export function disconnectProperties(list: readonly PropertyEntry[]): IDisconnectPacket['properties'] {
  return defined<NonNullable<IDisconnectPacket['properties']>>({
    sessionExpiryInterval: numberOf(list, 'session-expiry-interval'),
    reasonString: stringOf(list, 'reason-string'),
    userProperties: userProperties(list),
    serverReference: stringOf(list, 'server-reference'),
  });
}
