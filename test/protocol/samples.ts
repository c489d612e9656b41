// Shared fixtures for the codec tests: one or more sample packets of every type in each version, in the
// exact form the parser produces (so that decode(encode(p)) deep-equals p), raw byte builders for
// hand-made packets, and a seeded PRNG.

import assert from 'node:assert/strict';
import { PacketParser, type ParserOptions } from '../../src/protocol/parser.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';
import type { ProtocolError } from '../../src/protocol/errors.js';

export const VERSIONS: readonly ProtocolVersion[] = [3, 4, 5];

const payload = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Sample packets for one version, already in their decoded (canonical) form. */
export function samplePackets(version: ProtocolVersion): Packet[] {
  const v5 = version === 5;
  const packets: Packet[] = [
    {
      type: 'connect',
      protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      bridge: false,
      clean: true,
      keepalive: 60,
      clientId: 'sensor-1',
    },
    {
      type: 'connect',
      protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      bridge: true,
      clean: false,
      keepalive: 0,
      clientId: 'bridge-ü',
      will: {
        topic: 'status/bridge',
        payload: payload('offline'),
        qos: 2,
        retain: true,
        ...(v5 && {
          properties: {
            willDelayInterval: 30,
            payloadFormatIndicator: 1 as const,
            messageExpiryInterval: 3600,
            contentType: 'text/plain',
            responseTopic: 'reply/here',
            correlationData: payload('corr'),
            userProperties: [['k', 'v'] as const, ['k', 'w'] as const],
          },
        }),
      },
      username: 'alice',
      password: payload('s3cret'),
      ...(v5 && {
        properties: {
          sessionExpiryInterval: 0xffffffff,
          receiveMaximum: 20,
          maximumPacketSize: 1 << 20,
          topicAliasMaximum: 10,
          requestResponseInformation: 1 as const,
          requestProblemInformation: 0 as const,
          authenticationMethod: 'SCRAM-SHA-1',
          authenticationData: payload('client-first'),
          userProperties: [['region', 'eu'] as const],
        },
      }),
    },
    { type: 'connack', sessionPresent: version !== 3, reasonCode: 0 },
    v5
      ? {
          type: 'connack',
          sessionPresent: false,
          reasonCode: 0x87,
          properties: {
            sessionExpiryInterval: 120,
            receiveMaximum: 100,
            maximumQoS: 1,
            retainAvailable: 0,
            maximumPacketSize: 65536,
            assignedClientIdentifier: 'auto-1',
            topicAliasMaximum: 5,
            reasonString: 'not today',
            wildcardSubscriptionAvailable: 1,
            subscriptionIdentifiersAvailable: 0,
            sharedSubscriptionAvailable: 1,
            serverKeepAlive: 30,
            responseInformation: 'resp/',
            serverReference: 'other:1883',
            authenticationMethod: 'SCRAM-SHA-1',
            authenticationData: payload('server-final'),
            userProperties: [['a', '1'] as const],
          },
        }
      : { type: 'connack', sessionPresent: false, reasonCode: 5 },
    { type: 'publish', topic: 'a/b', payload: payload('hello'), qos: 0, retain: false, dup: false },
    { type: 'publish', topic: 'sensors/temp', payload: Buffer.alloc(0), qos: 1, retain: true, dup: true, packetId: 1 },
    {
      type: 'publish',
      topic: 'ünïcödé/😀',
      payload: Buffer.alloc(300, 7),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 65535,
      ...(v5 && {
        properties: {
          payloadFormatIndicator: 0 as const,
          messageExpiryInterval: 10,
          topicAlias: 3,
          responseTopic: 'r/t',
          correlationData: payload('id-9'),
          userProperties: [['x', 'y'] as const, ['x', 'z'] as const, ['a', ''] as const],
          contentType: 'application/json',
        },
      }),
    },
    { type: 'puback', packetId: 1 },
    { type: 'pubrec', packetId: 2 },
    { type: 'pubrel', packetId: 3 },
    { type: 'pubcomp', packetId: 4 },
    {
      type: 'subscribe',
      packetId: 10,
      subscriptions: [
        { filter: 'a/+/c', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        v5
          ? { filter: 'd/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 }
          : { filter: 'd/#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        // The parser does not judge filters: the broker answers 0x8F for this one in SUBACK.
        { filter: 'bad#filter', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
      ...(v5 && { properties: { subscriptionIdentifiers: [268435455], userProperties: [['s', 't'] as const] } }),
    },
    { type: 'suback', packetId: 10, reasonCodes: v5 ? [0, 2, 0x8f] : [0, 2, 0x80] },
    { type: 'unsubscribe', packetId: 11, filters: ['a/+/c', 'd/#'] },
    v5 ? { type: 'unsuback', packetId: 11, reasonCodes: [0, 0x11] } : { type: 'unsuback', packetId: 11 },
    { type: 'pingreq' },
    { type: 'pingresp' },
    { type: 'disconnect' },
  ];
  if (v5) {
    packets.push(
      { type: 'publish', topic: '', payload: payload('aliased'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } },
      { type: 'puback', packetId: 5, reasonCode: 0x10 },
      { type: 'pubrec', packetId: 6, reasonCode: 0x80, properties: { reasonString: 'nope' } },
      { type: 'pubrel', packetId: 7, reasonCode: 0x92, properties: { userProperties: [['u', 'v'] as const] } },
      { type: 'pubcomp', packetId: 8, reasonCode: 0, properties: { reasonString: 'ok' } },
      { type: 'suback', packetId: 12, reasonCodes: [1], properties: { reasonString: 'granted' } },
      { type: 'unsubscribe', packetId: 13, filters: ['x'], properties: { userProperties: [['p', 'q'] as const] } },
      { type: 'disconnect', reasonCode: 0x04 },
      {
        type: 'disconnect',
        reasonCode: 0x8b,
        properties: { reasonString: 'bye', serverReference: 'elsewhere', userProperties: [['r', 's'] as const] },
      },
      { type: 'auth' },
      {
        type: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: payload('server-first'), reasonString: 'go on' },
      },
    );
  }
  return packets;
}

/** Samples that a server sends, which the parser checks differently from what a client sends. */
export function sideFor(packet: Packet): ParserOptions['side'] {
  return packet.type === 'publish' && packet.properties?.subscriptionIdentifiers !== undefined ? 'client' : 'server';
}

export interface ParseResult {
  packets: Packet[];
  error: ProtocolError | undefined;
  parser: PacketParser;
}

/** Feeds chunks to a fresh parser (or the one given) and collects packets and the error. */
export function parseChunks(chunks: readonly Buffer[], options: ParserOptions | PacketParser = {}): ParseResult {
  const parser = options instanceof PacketParser ? options : new PacketParser(options);
  const packets: Packet[] = [];
  let error: ProtocolError | undefined;
  for (const chunk of chunks) {
    error = parser.push(chunk, (packet) => {
      packets.push(packet);
    });
    if (error !== undefined) break;
  }
  return { packets, error, parser };
}

// --- expectations on hand-made packets ------------------------------------------------------------

/** What a rejected packet must produce. */
export interface ExpectedError {
  reasonCode: number;
  statement?: string;
  packetType?: Packet['type'];
}

export function rejects(chunk: Buffer, options: ParserOptions, expected: ExpectedError): void {
  const { error, packets } = parseChunks([chunk], options);
  assert.deepEqual(packets, [], 'no packet is delivered');
  assert.ok(error, 'a protocol error is returned');
  assert.equal(error.kind, 'protocol-error');
  assert.equal(error.reasonCode, expected.reasonCode, error.message);
  if (expected.statement !== undefined) assert.equal(error.statement, expected.statement, error.message);
  if (expected.packetType !== undefined) assert.equal(error.packetType, expected.packetType);
  assert.ok(error.message.length > 10, 'the message says what was wrong');
}

export function accepts(chunk: Buffer, options: ParserOptions): Packet {
  const { error, packets } = parseChunks([chunk], options);
  assert.equal(error, undefined, error?.message);
  assert.equal(packets.length, 1);
  return packets[0]!;
}

// --- raw byte builders for hand-made packets ------------------------------------------------------

export type Part = number | readonly number[] | Buffer;

export function bytes(...parts: Part[]): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === 'number' ? Buffer.from([part]) : Buffer.from(part as never))));
}

/** A UTF-8 string field: two byte length + bytes. */
export function str(text: string | Buffer): Buffer {
  const data = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return bytes([data.length >> 8, data.length & 0xff], data);
}

export function u16(value: number): Buffer {
  return Buffer.from([value >> 8, value & 0xff]);
}

export function varInt(value: number): Buffer {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

/** A whole packet: first byte, minimal Remaining Length, body. */
export function rawPacket(byte0: number, ...body: Part[]): Buffer {
  const data = bytes(...body);
  return bytes(byte0, varInt(data.length), data);
}

/** A v5 property section from already encoded properties. */
export function props(...encoded: Part[]): Buffer {
  const data = bytes(...encoded);
  return bytes(varInt(data.length), data);
}

/** A v3.1.1 or v5 CONNECT body prefix: protocol name, level, flags, keep alive. */
export function connectHeader(level: number, flags: number, name = level === 3 ? 'MQIsdp' : 'MQTT'): Buffer {
  return bytes(str(name), level, flags, u16(60));
}

// --- seeded PRNG ----------------------------------------------------------------------------------

export { prng } from '../helpers/random.js';

/** A fixed seed so that every run is the same; CULEX_SEED=n explores (or replays) another. Printed by the caller. */
export function testSeed(fixed: number): number {
  const fromEnv = process.env['CULEX_SEED'];
  return fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : fixed;
}
