// The writer's choices of form: 3.1/3.1.1 leave out 5.0-only fields, 5.0 uses the short forms the spec
// allows, and sizes are exact.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, encodePublish } from '../../src/protocol/writer.js';
import type { Packet } from '../../src/protocol/packets.js';
import { VERSIONS, bytes, parseChunks, samplePackets } from './samples.js';

const hex = (buf: Buffer): string => buf.toString('hex');

test('§3.4.2.1 5.0 PUBACK with reason 0x00 and no properties has Remaining Length 2', () => {
  assert.equal(hex(encodePacket({ type: 'puback', packetId: 0x1234 }, 5)), '40021234');
  assert.equal(hex(encodePacket({ type: 'puback', packetId: 0x1234, reasonCode: 0, properties: {} }, 5)), '40021234');
});

test('§3.4.2.2.1 5.0 PUBACK with a reason code and no properties leaves out the Property Length', () => {
  assert.equal(hex(encodePacket({ type: 'puback', packetId: 1, reasonCode: 0x10 }, 5)), '4003000110');
  // With properties the reason code is written even when it is 0x00.
  assert.equal(hex(encodePacket({ type: 'pubrec', packetId: 1, reasonCode: 0, properties: { reasonString: 'r' } }, 5)), '5008000100041f000172');
});

test('[MQTT-3.6.1-1] PUBREL, SUBSCRIBE and UNSUBSCRIBE are written with flags 0b0010', () => {
  assert.equal(encodePacket({ type: 'pubrel', packetId: 1 }, 4)[0], 0x62);
  assert.equal(encodePacket({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4)[0], 0x82);
  assert.equal(encodePacket({ type: 'unsubscribe', packetId: 1, filters: ['a'] }, 4)[0], 0xa2);
});

test('§3.14.2.1 5.0 DISCONNECT: Remaining Length 0 for 0x00 without properties, 1 with a reason code only', () => {
  assert.equal(hex(encodePacket({ type: 'disconnect' }, 5)), 'e000');
  assert.equal(hex(encodePacket({ type: 'disconnect', reasonCode: 0 }, 5)), 'e000');
  assert.equal(hex(encodePacket({ type: 'disconnect', reasonCode: 0x8e }, 5)), 'e0018e');
  assert.equal(hex(encodePacket({ type: 'disconnect', reasonCode: 0, properties: { reasonString: 'x' } }, 5)), 'e00600041f000178');
});

test('§3.15.2.1 5.0 AUTH: Remaining Length 0 for 0x00 without properties, else reason code and Property Length', () => {
  assert.equal(hex(encodePacket({ type: 'auth' }, 5)), 'f000');
  assert.equal(hex(encodePacket({ type: 'auth', reasonCode: 0x19 }, 5)), 'f0021900');
});

test('AUTH cannot be written before 5.0', () => {
  assert.throws(() => encodePacket({ type: 'auth' }, 4), RangeError);
});

test('[MQTT-2.2.2-1] v5: packets that always have properties write a Property Length of 0 when there are none', () => {
  assert.equal(hex(encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 0 }, 5)), '2003000000');
  assert.equal(hex(encodePacket({ type: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 5)), '3004000161' + '00');
  assert.equal(hex(encodePacket({ type: 'unsuback', packetId: 1, reasonCodes: [0] }, 5)), 'b00400010000');
});

test('3.1.1 leaves out properties and 5.0 reason codes: PUBACK is the id, UNSUBACK has no payload, DISCONNECT no body', () => {
  const properties = { reasonString: 'ignored', userProperties: [['a', 'b'] as const] };
  assert.equal(hex(encodePacket({ type: 'puback', packetId: 7, reasonCode: 0x80, properties }, 4)), '40020007');
  assert.equal(hex(encodePacket({ type: 'unsuback', packetId: 7, reasonCodes: [0x11], properties }, 4)), 'b0020007');
  assert.equal(hex(encodePacket({ type: 'disconnect', reasonCode: 0x8b, properties }, 4)), 'e000');
  assert.equal(hex(encodePacket({ type: 'publish', topic: 'a', payload: Buffer.from('p'), qos: 0, retain: true, dup: false, properties }, 4)), '3104000161' + '70');
});

test('3.1.1 CONNACK writes reasonCode as the return code and SUBACK writes the codes as given', () => {
  assert.equal(hex(encodePacket({ type: 'connack', sessionPresent: true, reasonCode: 0 }, 4)), '20020100');
  assert.equal(hex(encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 5, properties: { reasonString: 'x' } }, 4)), '20020005');
  assert.equal(hex(encodePacket({ type: 'suback', packetId: 2, reasonCodes: [1, 0x80] }, 4)), '900400020180');
});

test('3.1 CONNECT is "MQIsdp" at level 3 and its CONNACK has no Session Present', () => {
  const connect = encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 10, clientId: 'c' }, 3);
  assert.equal(hex(connect.subarray(2, 11)), hex(bytes(0, 6, Buffer.from('MQIsdp'), 3)));
  assert.equal(encodePacket({ type: 'connack', sessionPresent: true, reasonCode: 0 }, 3)[2], 0);
});

test('[MQTT-3.3.1-2] the writer never sets DUP on a QoS 0 PUBLISH', () => {
  const { bytes: encoded, packetIdOffset } = encodePublish({ type: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: true }, 4);
  assert.equal(encoded[0], 0x30);
  assert.equal(packetIdOffset, -1);
});

test('properties not allowed in a packet type are not written (they would make it malformed)', () => {
  const packet: Packet = { type: 'puback', packetId: 1, reasonCode: 0, properties: { topicAlias: 3, sessionExpiryInterval: 9 } };
  assert.equal(hex(encodePacket(packet, 5)), '40020001');
  const subscribe = encodePacket(
    {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ filter: 'a', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
      properties: { subscriptionIdentifiers: [1, 2] },
    },
    5,
  );
  const { packets, error } = parseChunks([subscribe], { protocolVersion: 5 });
  assert.equal(error, undefined, 'only the first Subscription Identifier is written on SUBSCRIBE');
  assert.deepEqual(packets[0]?.type === 'subscribe' && packets[0].properties?.subscriptionIdentifiers, [1]);
});

test('values that cannot be encoded throw RangeError (programming errors, not protocol errors)', () => {
  assert.throws(() => encodePacket({ type: 'publish', topic: 'x'.repeat(70_000), payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 4), RangeError);
  assert.throws(() => encodePacket({ type: 'puback', packetId: 70_000 }, 4), RangeError);
  assert.throws(() => encodePacket({ type: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { subscriptionIdentifiers: [2 ** 28] } }, 5), RangeError);
});

test('non-ASCII strings are written as UTF-8 with their byte length', () => {
  const encoded = encodePacket({ type: 'unsubscribe', packetId: 1, filters: ['é/😀'] }, 4);
  assert.equal(hex(encoded.subarray(4)), hex(bytes(0, 7, Buffer.from('é/😀'))));
});

for (const version of VERSIONS) {
  test(`every sample encodes to exactly its declared size (level ${version})`, () => {
    for (const packet of samplePackets(version)) {
      const encoded = encodePacket(packet, version);
      let remaining = 0;
      let multiplier = 1;
      let i = 1;
      for (;;) {
        const byte = encoded[i++]!;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      assert.equal(encoded.length, i + remaining, packet.type);
    }
  });
}
