// Validation rules of CONNECT, CONNACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, the PUBLISH
// acknowledgements, DISCONNECT and AUTH, one test each, titled with the normative statement enforced
// (MQTT 5.0 ids unless marked (3.1.1); "v5:" marks an id that 3.1.1 uses for another rule; a rule
// without a numbered statement names its section).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ParserOptions } from '../../src/protocol/parser.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { accepts, bytes, connectHeader, parseChunks, props, rawPacket, rejects, str, u16 } from './samples.js';

const V5: ParserOptions = { protocolVersion: 5 };
const V4: ParserOptions = { protocolVersion: 4 };
const { MalformedPacket, ProtocolError } = ReasonCode;

// --- CONNECT --------------------------------------------------------------------------------------

test('[MQTT-3.1.2-1] a Protocol Name other than "MQTT" (or "MQIsdp" for 3.1) is rejected', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x02, 'MQTX'), str('id')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-1' });
});

test('[MQTT-3.1.2-2] an unsupported protocol level is answered with 0x84, and the version is left unchanged', () => {
  const { error, parser } = parseChunks([rawPacket(0x10, connectHeader(6, 0x02, 'MQTT'), str('id'))]);
  assert.equal(error?.reasonCode, ReasonCode.UnsupportedProtocolVersion);
  assert.equal(error?.statement, 'MQTT-3.1.2-2');
  assert.equal(error?.packetType, 'connect');
  assert.equal(parser.protocolVersion, 4);
});

test('[MQTT-3.1.2-2] a name that does not match the level ("MQTT" at 3, "MQIsdp" at 4) is 0x84', () => {
  const expected = { reasonCode: ReasonCode.UnsupportedProtocolVersion, statement: 'MQTT-3.1.2-2' };
  rejects(rawPacket(0x10, connectHeader(3, 0x02, 'MQTT'), str('id')), V4, expected);
  rejects(rawPacket(0x10, connectHeader(4, 0x02, 'MQIsdp'), str('id')), V4, expected);
});

test('MQTT 3.1: "MQIsdp" at level 3 is accepted and switches the parser to 3', () => {
  const { error, parser } = parseChunks([rawPacket(0x10, connectHeader(3, 0x02), str('old-client'))]);
  assert.equal(error, undefined);
  assert.equal(parser.protocolVersion, 3);
});

test('bit 7 of the protocol level marks a bridge', () => {
  const packet = accepts(rawPacket(0x10, connectHeader(0x84, 0x02, 'MQTT'), str('b')), V4);
  assert.equal(packet.type === 'connect' && packet.bridge, true);
});

test('[MQTT-3.1.2-3] the reserved Connect Flags bit 0 must be 0', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x03), str('id')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-3' });
});

test('[MQTT-3.1.2-11] v5: Will QoS must be 0 when the Will Flag is 0', () => {
  rejects(rawPacket(0x10, connectHeader(5, 0x0a), props(), str('id')), V5, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-11' });
});

test('[MQTT-3.1.2-13] (3.1.1) Will QoS must be 0 when the Will Flag is 0', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x12), str('id')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-13' });
});

test('[MQTT-3.1.2-13] v5: Will Retain must be 0 when the Will Flag is 0', () => {
  rejects(rawPacket(0x10, connectHeader(5, 0x22), props(), str('id')), V5, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-13' });
});

test('[MQTT-3.1.2-15] (3.1.1) Will Retain must be 0 when the Will Flag is 0', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x22), str('id')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-15' });
});

test('[MQTT-3.1.2-12] v5: Will QoS 3 is malformed', () => {
  rejects(rawPacket(0x10, connectHeader(5, 0x1e), props(), str('id'), props(), str('w'), str('p')), V5, {
    reasonCode: MalformedPacket,
    statement: 'MQTT-3.1.2-12',
  });
});

test('[MQTT-3.1.2-14] (3.1.1) Will QoS 3 is malformed', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x1e), str('id'), str('w'), str('p')), V4, { reasonCode: MalformedPacket, statement: 'MQTT-3.1.2-14' });
});

test('[MQTT-3.1.2-22] (3.1.1) the Password Flag without the User Name Flag is an error', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x42), str('id'), str('pw')), V4, { reasonCode: ProtocolError, statement: 'MQTT-3.1.2-22' });
});

test('§3.1.2.9 5.0 allows a Password without a User Name', () => {
  const packet = accepts(rawPacket(0x10, connectHeader(5, 0x42), props(), str('id'), str('pw')), V5);
  assert.equal(packet.type === 'connect' && packet.password?.toString(), 'pw');
});

test('[MQTT-3.1.2-9] the Will fields must be present when the Will Flag is 1', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x06), str('id')), V4, { reasonCode: MalformedPacket, packetType: 'connect' });
});

test('[MQTT-3.3.2-2] a Will Topic with wildcards is rejected like a PUBLISH topic', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x06), str('id'), str('will/#'), str('p')), V4, {
    reasonCode: ReasonCode.TopicNameInvalid,
    statement: 'MQTT-3.3.2-2',
    packetType: 'connect',
  });
});

test('[MQTT-3.1.4-1] bytes after the last CONNECT field are malformed', () => {
  rejects(rawPacket(0x10, connectHeader(4, 0x02), str('id'), 0x00), V4, { reasonCode: MalformedPacket, packetType: 'connect' });
});

test('MQTT 3.1: a User Name or Password flag with the field left out is tolerated (as Mosquitto does)', () => {
  const packet = accepts(rawPacket(0x10, connectHeader(3, 0xc2), str('id'), str('user')), {});
  assert.equal(packet.type === 'connect' && packet.username, 'user');
  assert.equal(packet.type === 'connect' && packet.password, undefined);
});

test('CONNECT copies the Will payload and Password off the socket chunk (they outlive the packet)', () => {
  const chunk = rawPacket(0x10, connectHeader(4, 0xc6), str('id'), str('w'), str('will'), str('u'), str('pw'));
  const packet = accepts(chunk, V4);
  assert.ok(packet.type === 'connect' && packet.will !== undefined && packet.password !== undefined);
  chunk.fill(0); // the socket layer may reuse its buffer
  assert.equal(packet.will.payload.toString(), 'will');
  assert.equal(packet.password.toString(), 'pw');
});

// --- CONNACK --------------------------------------------------------------------------------------

test('[MQTT-3.2.2-1] v5: CONNACK flags bits 7-1 are reserved', () => {
  rejects(rawPacket(0x20, 0x02, 0, props()), V5, { reasonCode: MalformedPacket, statement: 'MQTT-3.2.2-1' });
  rejects(rawPacket(0x20, 0x80, 0), V4, { reasonCode: MalformedPacket, packetType: 'connack' });
});

test('[MQTT-3.2.2-8] a CONNACK reason code outside the Connect Reason Codes is a Protocol Error', () => {
  rejects(rawPacket(0x20, 0, 0x10, props()), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.2.2-8' });
});

test('[MQTT-3.2.2-6] v5: Session Present must be 0 with a non-zero reason code', () => {
  rejects(rawPacket(0x20, 1, 0x80, props()), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.2.2-6' });
});

test('[MQTT-3.2.2-4] (3.1.1) Session Present must be 0 with a non-zero return code', () => {
  rejects(rawPacket(0x20, 1, 5), V4, { reasonCode: ProtocolError, statement: 'MQTT-3.2.2-4' });
});

// --- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK ----------------------------------------------------

test('[MQTT-3.8.3-2] v5: a SUBSCRIBE must contain at least one Topic Filter', () => {
  rejects(rawPacket(0x82, u16(1), props()), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.8.3-2' });
});

test('[MQTT-3.8.3-3] (3.1.1) a SUBSCRIBE must contain at least one Topic Filter', () => {
  rejects(rawPacket(0x82, u16(1)), V4, { reasonCode: ProtocolError, statement: 'MQTT-3.8.3-3' });
});

test('[MQTT-3.8.3-5] v5: reserved Subscription Options bits 7-6 must be 0', () => {
  rejects(rawPacket(0x82, u16(1), props(), str('a'), 0x40), V5, { reasonCode: MalformedPacket, statement: 'MQTT-3.8.3-5' });
});

test('[MQTT-3-8.3-4] (3.1.1) bits 7-2 of the Requested QoS byte must be 0, and QoS 3 is malformed', () => {
  const expected = { reasonCode: MalformedPacket, statement: 'MQTT-3-8.3-4' };
  rejects(rawPacket(0x82, u16(1), str('a'), 0x04), V4, expected);
  rejects(rawPacket(0x82, u16(1), str('a'), 0x03), V4, expected);
});

test('§3.8.3.1 5.0: Maximum QoS 3 and Retain Handling 3 are Protocol Errors', () => {
  rejects(rawPacket(0x82, u16(1), props(), str('a'), 0x03), V5, { reasonCode: ProtocolError });
  rejects(rawPacket(0x82, u16(1), props(), str('a'), 0x30), V5, { reasonCode: ProtocolError });
});

test('[MQTT-3.8.3-4] v5: No Local on a Shared Subscription is a Protocol Error', () => {
  rejects(rawPacket(0x82, u16(1), props(), str('$share/g/a'), 0x04), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.8.3-4' });
});

test('[MQTT-3.8.3-1] Topic Filters must be UTF-8 strings, but an invalid filter is left to the broker (SUBACK 0x8F)', () => {
  rejects(rawPacket(0x82, u16(1), str(Buffer.from([0xc3])), 0), V4, { reasonCode: MalformedPacket, statement: 'MQTT-1.5.4-1' });
  const packet = accepts(rawPacket(0x82, u16(1), str('a/#/b'), 0, str(''), 1), V4);
  assert.deepEqual(packet.type === 'subscribe' && packet.subscriptions.map((s) => s.filter), ['a/#/b', '']);
});

test('§3.8.3 a Topic Filter without its Subscription Options byte is malformed', () => {
  rejects(rawPacket(0x82, u16(1), str('a')), V4, { reasonCode: MalformedPacket, packetType: 'subscribe' });
});

test('[MQTT-3.9.3-2] SUBACK codes other than the listed ones are rejected (3.1.1 and 5.0)', () => {
  rejects(rawPacket(0x90, u16(1), 0x03), V4, { reasonCode: ProtocolError, statement: 'MQTT-3.9.3-2' });
  rejects(rawPacket(0x90, u16(1), props(), 0x84), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.9.3-2' });
});

test('[MQTT-3.10.3-2] an UNSUBSCRIBE must contain at least one Topic Filter', () => {
  rejects(rawPacket(0xa2, u16(1)), V4, { reasonCode: ProtocolError, statement: 'MQTT-3.10.3-2' });
  rejects(rawPacket(0xa2, u16(1), props()), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.10.3-2' });
});

test('[MQTT-3.11.3-2] UNSUBACK reason codes outside the list are rejected', () => {
  rejects(rawPacket(0xb0, u16(1), props(), 0x01), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.11.3-2' });
});

test('§3.11 3.1.1: an UNSUBACK is the Packet Identifier alone', () => {
  rejects(rawPacket(0xb0, u16(1), 0), V4, { reasonCode: MalformedPacket, packetType: 'unsuback' });
});

// --- acknowledgements, DISCONNECT, AUTH -------------------------------------------------------------

test('[MQTT-3.4.2-1] PUBACK reason codes outside the list are rejected', () => {
  rejects(rawPacket(0x40, u16(1), 0x11), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.4.2-1' });
});

test('[MQTT-3.6.2-1] PUBREL reason codes outside the list are rejected', () => {
  rejects(rawPacket(0x62, u16(1), 0x10), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.6.2-1' });
});

test('§3.4.2.1 5.0: PUBACK with a reason code and no Property Length (Remaining Length 3) is valid', () => {
  assert.deepEqual(accepts(rawPacket(0x40, u16(9), 0x10), V5), { type: 'puback', packetId: 9, reasonCode: 0x10 });
});

test('§3.4 3.1.1: PUBACK is the Packet Identifier alone; extra bytes are malformed', () => {
  rejects(rawPacket(0x40, u16(1), 0), V4, { reasonCode: MalformedPacket, packetType: 'puback' });
  rejects(rawPacket(0x40, 0), V4, { reasonCode: MalformedPacket, packetType: 'puback' });
});

test('[MQTT-3.14.2-1] DISCONNECT reason codes outside the list are rejected', () => {
  rejects(bytes(0xe0, 1, 0x05), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.14.2-1' });
});

test('[MQTT-3.14.2-2] a Server must not send Session Expiry Interval on DISCONNECT', () => {
  const disconnect = rawPacket(0xe0, 0x00, props(0x11, [0, 0, 0, 1]));
  rejects(disconnect, { ...V5, side: 'client' }, { reasonCode: ProtocolError, statement: 'MQTT-3.14.2-2' });
  accepts(disconnect, V5); // from a client it is how the session expiry is changed
});

test('§3.14 3.1.1: DISCONNECT is the fixed header alone', () => {
  rejects(bytes(0xe0, 1, 0), V4, { reasonCode: MalformedPacket, packetType: 'disconnect' });
});

test('[MQTT-3.15.2-1] AUTH reason codes other than 0x00, 0x18, 0x19 are rejected', () => {
  rejects(rawPacket(0xf0, 0x87, props()), V5, { reasonCode: ProtocolError, statement: 'MQTT-3.15.2-1' });
});

test('§3.15.2.1 AUTH leaves out Reason Code and Property Length only together', () => {
  rejects(bytes(0xf0, 1, 0x18), V5, { reasonCode: MalformedPacket, packetType: 'auth' });
});
