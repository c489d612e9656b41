// Every validation rule of the parser, one test each, titled with the normative statement it enforces
// (MQTT 5.0 ids unless marked (3.1.1); "v5:" marks an id that 3.1.1 uses for another rule; a rule
// without a numbered statement names its section).
// This file: the fixed header, Packet Identifiers, UTF-8 strings, PUBLISH and properties;
// parser-packet-rules.test.ts has the rules of the other packet types.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ParserOptions } from '../../src/protocol/parser.js';
import type { PublishPacket } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { accepts, bytes, connectHeader, props, rawPacket, rejects, str, u16 } from './samples.js';

const V5: ParserOptions = { protocolVersion: 5 };
const V4: ParserOptions = { protocolVersion: 4 };
const { MalformedPacket, ProtocolError } = ReasonCode;

/** A v5 PUBLISH QoS 0 with the given property bytes. */
const publish5 = (topic: string, ...properties: Parameters<typeof props>) =>
  rawPacket(0x30, str(topic), props(...properties), 'x'.charCodeAt(0));

// --- fixed header ---------------------------------------------------------------------------------

test('[MQTT-2.1.3-1] v5: reserved flag bits of CONNECT, CONNACK, PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK, PINGREQ, PINGRESP must be 0', () => {
  for (const type of [1, 2, 4, 5, 7, 9, 11, 12, 13]) {
    for (const flags of [0b0001, 0b0010, 0b0100, 0b1000]) {
      rejects(bytes((type << 4) | flags, 2, 0, 1), V5, { reasonCode: MalformedPacket, statement: 'MQTT-2.1.3-1' });
    }
  }
});

test('[MQTT-2.2.2-1] (3.1.1) reserved flag bits must be as listed', () => {
  rejects(bytes(0x41, 2, 0, 1), V4, { reasonCode: MalformedPacket, statement: 'MQTT-2.2.2-1', packetType: 'puback' });
});

test('[MQTT-3.6.1-1] PUBREL fixed header flags must be 0b0010', () => {
  rejects(bytes(0x60, 2, 0, 1), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.6.1-1', packetType: 'pubrel' });
});

test('[MQTT-3.8.1-1] SUBSCRIBE fixed header flags must be 0b0010', () => {
  rejects(rawPacket(0x80, u16(1), str('a'), 0), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.8.1-1' });
});

test('[MQTT-3.10.1-1] UNSUBSCRIBE fixed header flags must be 0b0010', () => {
  rejects(rawPacket(0xa3, u16(1), str('a')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.10.1-1' });
});

test('[MQTT-3.14.1-1] DISCONNECT fixed header flags must be 0', () => {
  rejects(bytes(0xe2, 0), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.14.1-1', packetType: 'disconnect' });
});

test('[MQTT-3.15.1-1] AUTH fixed header flags must be 0', () => {
  rejects(bytes(0xf1, 0), V5, { reasonCode: MalformedPacket, statement: 'MQTT-3.15.1-1', packetType: 'auth' });
});

test('§2.1.2 packet type 0 is reserved', () => {
  rejects(bytes(0x00, 0), V5, { reasonCode: MalformedPacket });
});

test('§2.1.2 3.1.1: packet type 15 (AUTH) is forbidden before 5.0', () => {
  rejects(bytes(0xf0, 0), V4, { reasonCode: MalformedPacket, packetType: 'auth' });
});

test('§1.5.5 a Remaining Length with a continuation bit on its 4th byte is malformed', () => {
  rejects(bytes(0x30, 0xff, 0xff, 0xff, 0x80, 0x01), V4, { reasonCode: MalformedPacket });
});

test('[MQTT-3.3.1-4] PUBLISH with QoS 3 is malformed', () => {
  rejects(rawPacket(0x36, str('a'), u16(1)), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.3.1-4', packetType: 'publish' });
});

test('[MQTT-3.3.1-2] DUP must be 0 for a QoS 0 PUBLISH', () => {
  rejects(rawPacket(0x38, str('a')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.3.1-2' });
});

test('§3.12 PINGREQ with a non-zero Remaining Length is malformed: the body must be consumed exactly', () => {
  rejects(bytes(0xc0, 1, 0), V4, { reasonCode: MalformedPacket, packetType: 'pingreq' });
  rejects(bytes(0xd0, 1, 0), V4, { reasonCode: MalformedPacket, packetType: 'pingresp' });
});

// --- packet identifiers ---------------------------------------------------------------------------

test('[MQTT-2.2.1-3] v5: PUBLISH QoS > 0, SUBSCRIBE and UNSUBSCRIBE need a non-zero Packet Identifier', () => {
  const expected = { reasonCode: ProtocolError, statement: 'MQTT-2.2.1-3' };
  rejects(rawPacket(0x32, str('a'), u16(0), props()), V5, expected);
  rejects(rawPacket(0x82, u16(0), props(), str('a'), 0), V5, expected);
  rejects(rawPacket(0xa2, u16(0), props(), str('a')), V5, expected);
});

test('[MQTT-2.3.1-1] (3.1.1) PUBLISH QoS > 0, SUBSCRIBE and UNSUBSCRIBE need a non-zero Packet Identifier', () => {
  const expected = { reasonCode: ProtocolError, statement: 'MQTT-2.3.1-1' };
  rejects(rawPacket(0x34, str('a'), u16(0)), V4, expected);
  rejects(rawPacket(0x82, u16(0), str('a'), 0), V4, expected);
  rejects(rawPacket(0xa2, u16(0), str('a')), V4, expected);
});

// --- UTF-8 strings --------------------------------------------------------------------------------

test('[MQTT-1.5.4-1] ill-formed UTF-8 is malformed: invalid bytes, overlong forms, truncated sequences', () => {
  for (const bad of [[0xff], [0xc0, 0xaf], [0xe2, 0x82], [0x61, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
    rejects(rawPacket(0x30, str(Buffer.from(bad))), V4, { reasonCode: MalformedPacket, statement: 'MQTT-1.5.4-1' });
  }
});

test('[MQTT-1.5.4-1] UTF-8 encodings of surrogate code points U+D800..U+DFFF are malformed', () => {
  for (const surrogate of [[0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf]]) {
    rejects(rawPacket(0x30, str(Buffer.from(surrogate))), V4, { reasonCode: MalformedPacket, statement: 'MQTT-1.5.4-1' });
  }
});

test('[MQTT-1.5.4-2] a string containing U+0000 is malformed (topic, client id, user property)', () => {
  const expected = { reasonCode: MalformedPacket, statement: 'MQTT-1.5.4-2' };
  rejects(rawPacket(0x30, str('a\u0000b')), V4, expected);
  rejects(rawPacket(0x10, connectHeader(4, 0x02), str('id\u0000')), V4, expected);
  rejects(publish5('t', 0x26, str('n'), str('\u0000')), V5, expected);
  // Even among non-ASCII characters, where the fast ASCII path is not taken.
  rejects(rawPacket(0x30, str('é\u0000')), V4, expected);
});

test('[MQTT-1.5.4-3] a BOM (0xEF 0xBB 0xBF) is kept as U+FEFF, never stripped', () => {
  const packet = accepts(rawPacket(0x30, str(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))), V4) as PublishPacket;
  assert.equal(packet.topic, '\ufeffa');
});

test('[MQTT-1.5.7-1] both strings of a User Property must be valid UTF-8', () => {
  rejects(publish5('t', 0x26, str(Buffer.from([0xff])), str('v')), V5, { reasonCode: MalformedPacket, statement: 'MQTT-1.5.4-1' });
});

test('§1.5.4 a string whose length runs past the end of the packet is malformed', () => {
  rejects(rawPacket(0x30, u16(10), 0x61), V4, { reasonCode: MalformedPacket, packetType: 'publish' });
});

// --- PUBLISH --------------------------------------------------------------------------------------

test('[MQTT-3.3.2-2] a Topic Name containing + or # is rejected (0x90)', () => {
  for (const topic of ['a/+', '#', 'a/b#']) {
    rejects(rawPacket(0x30, str(topic)), V4, { reasonCode: ReasonCode.TopicNameInvalid, statement: 'MQTT-3.3.2-2' });
  }
});

test('[MQTT-4.7.3-1] (3.1.1) a zero-length Topic Name is a protocol error', () => {
  rejects(rawPacket(0x30, str('')), V4, { reasonCode: ProtocolError, statement: 'MQTT-4.7.3-1' });
});

test('[MQTT-4.7.3-1] 5.0: a zero-length Topic Name needs a Topic Alias (§3.3.2.1)', () => {
  rejects(publish5(''), V5, { reasonCode: ProtocolError, statement: 'MQTT-4.7.3-1' });
  const packet = accepts(publish5('', 0x23, u16(7)), V5) as PublishPacket;
  assert.equal(packet.topic, '');
  assert.equal(packet.properties?.topicAlias, 7);
});

test('[MQTT-3.3.2-8] a Topic Alias of 0 is rejected (0x94)', () => {
  rejects(publish5('t', 0x23, u16(0)), V5, { reasonCode: ReasonCode.TopicAliasInvalid, statement: 'MQTT-3.3.2-8' });
});

test('[MQTT-3.3.4-6] a PUBLISH from a Client must not contain a Subscription Identifier', () => {
  rejects(publish5('t', 0x0b, 5), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.3.4-6' });
});

test('[MQTT-3.3.4-4] a PUBLISH from a Server may carry several Subscription Identifiers', () => {
  const packet = accepts(publish5('t', 0x0b, 5, 0x0b, 0x80, 0x01), { ...V5, side: 'client' }) as PublishPacket;
  assert.deepEqual(packet.properties?.subscriptionIdentifiers, [5, 128]);
});

test('[MQTT-3.3.2-14] a Response Topic must not contain wildcards', () => {
  rejects(publish5('t', 0x08, str('reply/#')), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.3.2-14' });
});

// --- properties -----------------------------------------------------------------------------------

test('§2.2.2.2 a repeated property is a Protocol Error (0x82)', () => {
  rejects(publish5('t', 0x02, [0, 0, 0, 1], 0x02, [0, 0, 0, 2]), V5, { reasonCode: ProtocolError, packetType: 'publish' });
  rejects(rawPacket(0x40, u16(1), 0x80, props(0x1f, str('a'), 0x1f, str('b'))), V5, { reasonCode: ProtocolError, packetType: 'puback' });
  rejects(rawPacket(0x82, u16(1), props(0x0b, 1, 0x0b, 2), str('a'), 0), V5, { reasonCode: ProtocolError, packetType: 'subscribe' });
});

test('[MQTT-3.3.2-18] User Property may repeat, and order and duplicates are kept', () => {
  const packet = accepts(publish5('t', 0x26, str('a'), str('1'), 0x26, str('b'), str('2'), 0x26, str('a'), str('3')), V5);
  assert.deepEqual((packet as PublishPacket).properties?.userProperties, [['a', '1'], ['b', '2'], ['a', '3']]);
});

test('§2.2.2.2 a property not valid for the packet type is malformed', () => {
  rejects(publish5('t', 0x11, [0, 0, 0, 1]), V5, { reasonCode: MalformedPacket, packetType: 'publish' });
  // Topic Alias exists on PUBLISH but not in Will Properties.
  const willWithAlias = rawPacket(0x10, connectHeader(5, 0x04), props(), str('id'), props(0x23, u16(1)), str('w'), str('p'));
  rejects(willWithAlias, V5, { reasonCode: MalformedPacket, packetType: 'connect' });
  rejects(bytes(0xe0, 3, 0x00, 1, 0x24), V5, { reasonCode: MalformedPacket, packetType: 'disconnect' });
});

test('§2.2.2.2 an unknown property identifier is malformed', () => {
  rejects(publish5('t', 0x04, 0), V5, { reasonCode: MalformedPacket });
  rejects(publish5('t', 0x80, 0x01, 0), V5, { reasonCode: MalformedPacket });
});

test('§2.2.2.1 a Property Length running past the packet, or a property straddling it, is malformed', () => {
  rejects(rawPacket(0x30, str('t'), 10, 0x01), V5, { reasonCode: MalformedPacket });
  // Section of 3 bytes holding a 5-byte Message Expiry Interval.
  rejects(rawPacket(0x30, str('t'), 3, 0x02, 0, 0, 0, 1), V5, { reasonCode: MalformedPacket });
});

test('§3.3.2.3.2 Payload Format Indicator other than 0 or 1 is a Protocol Error', () => {
  rejects(publish5('t', 0x01, 2), V5, { reasonCode: ProtocolError });
});

test('§3.1.2.11 Request Problem / Response Information other than 0 or 1, Receive Maximum 0, Maximum Packet Size 0 are Protocol Errors', () => {
  for (const property of [[0x17, 2], [0x19, 2], [0x21, 0, 0], [0x27, 0, 0, 0, 0]]) {
    rejects(rawPacket(0x10, connectHeader(5, 0x02), props(property), str('id')), V5, { reasonCode: ProtocolError, packetType: 'connect' });
  }
});

test('§3.2.2.3 CONNACK Maximum QoS, Retain / Wildcard / Subscription Identifier / Shared Subscription Available other than 0 or 1 are Protocol Errors', () => {
  for (const id of [0x24, 0x25, 0x28, 0x29, 0x2a]) {
    rejects(rawPacket(0x20, 0, 0, props(id, 2)), V5, { reasonCode: ProtocolError, packetType: 'connack' });
  }
});

test('§3.8.2.1.2 a Subscription Identifier of 0 is a Protocol Error', () => {
  rejects(rawPacket(0x82, u16(1), props(0x0b, 0), str('a'), 0), V5, { reasonCode: ProtocolError, packetType: 'subscribe' });
});

test('§3.1.2.11.10 Authentication Data without an Authentication Method is a Protocol Error', () => {
  rejects(rawPacket(0x10, connectHeader(5, 0x02), props(0x16, str('data')), str('id')), V5, { reasonCode: ProtocolError });
});
