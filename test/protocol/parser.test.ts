// PacketParser framing and round trips: every packet type in every version, every way of splitting
// the bytes across chunks, coalesced packets, the size limit, and the parser's lifecycle.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAUSE, PacketParser } from '../../src/protocol/parser.js';
import { encodePacket, encodePublish } from '../../src/protocol/writer.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import type { Packet, PublishPacket } from '../../src/protocol/packets.js';
import { VERSIONS, bytes, parseChunks, rawPacket, samplePackets, sideFor, str } from './samples.js';

for (const version of VERSIONS) {
  test(`every packet type round-trips through encodePacket and PacketParser (level ${version})`, () => {
    const samples = samplePackets(version);
    const types = new Set(samples.map((packet) => packet.type));
    assert.equal(types.size, version === 5 ? 15 : 14, 'all packet types are sampled (AUTH is 5.0 only)');
    for (const packet of samples) {
      const encoded = encodePacket(packet, version);
      const { packets, error } = parseChunks([encoded], { protocolVersion: version, side: sideFor(packet) });
      assert.equal(error, undefined, `${packet.type}: ${error?.message}`);
      assert.deepEqual(packets, [packet], packet.type);
      // And the encoding is canonical: re-encoding the decoded packet gives the same bytes.
      assert.deepEqual(encodePacket(packets[0]!, version), encoded, `${packet.type} re-encodes identically`);
    }
  });

  test(`a stream split at every byte across two chunks decodes the same packets (level ${version})`, () => {
    const samples = samplePackets(version).filter((packet) => sideFor(packet) === 'server');
    const stream = Buffer.concat(samples.map((packet) => encodePacket(packet, version)));
    for (let split = 0; split <= stream.length; split++) {
      const { packets, error, parser } = parseChunks([stream.subarray(0, split), stream.subarray(split)], {
        protocolVersion: version,
      });
      assert.equal(error, undefined, `split at ${split}: ${error?.message}`);
      assert.deepEqual(packets, samples, `split at ${split}`);
      assert.equal(parser.bufferedBytes, 0);
    }
  });

  test(`a stream fed one byte at a time decodes the same packets (level ${version})`, () => {
    const samples = samplePackets(version).filter((packet) => sideFor(packet) === 'server');
    const stream = Buffer.concat(samples.map((packet) => encodePacket(packet, version)));
    const chunks = Array.from(stream, (byte) => Buffer.from([byte]));
    const { packets, error } = parseChunks(chunks, { protocolVersion: version });
    assert.equal(error, undefined, error?.message);
    assert.deepEqual(packets, samples);
  });
}

test('several packets coalesced in one chunk are all delivered, in order, in one push', () => {
  const samples = samplePackets(5).filter((packet) => sideFor(packet) === 'server');
  const chunk = Buffer.concat(samples.map((packet) => encodePacket(packet, 5)));
  const parser = new PacketParser({ protocolVersion: 5 });
  const seen: Packet[] = [];
  assert.equal(parser.push(chunk, (packet) => void seen.push(packet)), undefined);
  assert.deepEqual(seen, samples);
});

test('the tail of a chunk that holds part of the next packet waits for the rest', () => {
  const first = encodePacket({ type: 'pingreq' }, 4);
  const second = encodePacket({ type: 'publish', topic: 't', payload: Buffer.alloc(100, 1), qos: 0, retain: false, dup: false }, 4);
  const parser = new PacketParser();
  const seen: Packet[] = [];
  parser.push(Buffer.concat([first, second.subarray(0, 10)]), (packet) => void seen.push(packet));
  assert.deepEqual(seen, [{ type: 'pingreq' }]);
  assert.equal(parser.bufferedBytes, 10);
  parser.push(second.subarray(10), (packet) => void seen.push(packet));
  assert.equal(seen.length, 2);
  assert.equal(parser.bufferedBytes, 0);
});

test('a PUBLISH wholly inside a chunk has a payload that is a view of the chunk, not a copy', () => {
  const chunk = encodePacket({ type: 'publish', topic: 'a', payload: Buffer.from('abc'), qos: 0, retain: false, dup: false }, 4);
  const { packets } = parseChunks([chunk]);
  const publish = packets[0] as PublishPacket;
  assert.equal(publish.payload.buffer, chunk.buffer);
  assert.equal(publish.payload.byteOffset, chunk.byteOffset + chunk.length - 3);
});

test('a PUBLISH spanning chunks is assembled in one buffer of its exact size', () => {
  // At least Buffer.poolSize: allocUnsafe gives it its own ArrayBuffer (smaller ones come from the pool).
  const body = Buffer.alloc(Buffer.poolSize, 0x5a);
  const encoded = encodePacket({ type: 'publish', topic: 'big', payload: body, qos: 0, retain: false, dup: false }, 4);
  const { packets } = parseChunks([encoded.subarray(0, 7), encoded.subarray(7, 5000), encoded.subarray(5000)]);
  const publish = packets[0] as PublishPacket;
  assert.deepEqual(publish.payload, body);
  assert.equal(publish.payload.buffer.byteLength, encoded.length);
});

test('maxPacketSize is checked from the fixed header, before the body arrives (0x95)', () => {
  const parser = new PacketParser({ maxPacketSize: 1024 });
  // PUBLISH announcing 2000 bytes of Remaining Length; only the header and 3 body bytes are pushed.
  const head = bytes(0x30, 0xd0, 0x0f, 0x00, 0x01, 0x61);
  const error = parser.push(head, () => assert.fail('no packet expected'));
  assert.equal(error?.reasonCode, ReasonCode.PacketTooLarge);
  assert.equal(error?.packetType, 'publish');
  assert.equal(parser.bufferedBytes, 0, 'nothing of the body was buffered');
});

test('maxPacketSize counts the fixed header: a packet of exactly the limit is accepted', () => {
  const packet = encodePacket({ type: 'publish', topic: 'a', payload: Buffer.alloc(10), qos: 0, retain: false, dup: false }, 4);
  assert.equal(parseChunks([packet], { maxPacketSize: packet.length }).error, undefined);
  assert.equal(parseChunks([packet], { maxPacketSize: packet.length - 1 }).error?.reasonCode, ReasonCode.PacketTooLarge);
});

test('maxPacketSize is public and settable after construction', () => {
  const parser = new PacketParser();
  assert.equal(parser.maxPacketSize, 268435460);
  parser.maxPacketSize = 3; // PUBACK is 4 bytes
  const error = parser.push(encodePacket({ type: 'puback', packetId: 1 }, 4), () => undefined);
  assert.equal(error?.reasonCode, ReasonCode.PacketTooLarge);
});

test('the protocol version defaults to 4 and follows the level of a CONNECT', () => {
  const parser = new PacketParser();
  assert.equal(parser.protocolVersion, 4);
  const connect = encodePacket(samplePackets(5)[0]!, 5);
  const auth = encodePacket({ type: 'auth' }, 5);
  // AUTH only exists in 5.0: it parses because the CONNECT before it in the same chunk switched the version.
  const { packets, error } = parseChunks([Buffer.concat([connect, auth])], parser);
  assert.equal(error, undefined);
  assert.equal(parser.protocolVersion, 5);
  assert.deepEqual(packets.map((packet) => packet.type), ['connect', 'auth']);
});

test('the version switches as soon as the CONNECT level byte is read, even if the rest fails', () => {
  const parser = new PacketParser();
  // Level 5, then reserved flag bit 0 set: malformed, but the broker must answer with a v5 CONNACK.
  const { error } = parseChunks([rawPacket(0x10, str('MQTT'), 5, 0x01, 0, 60, 0)], parser);
  assert.equal(error?.reasonCode, ReasonCode.MalformedPacket);
  assert.equal(error?.packetType, 'connect');
  assert.equal(parser.protocolVersion, 5);
});

test('after an error the parser stays failed and returns the same error', () => {
  const parser = new PacketParser();
  const first = parser.push(bytes(0x00, 0x00), () => undefined);
  assert.ok(first);
  assert.equal(parser.push(encodePacket({ type: 'pingreq' }, 4), () => assert.fail('no packet after failure')), first);
});

test('packets before the bad one in the same chunk are delivered', () => {
  const good = encodePacket({ type: 'pingreq' }, 4);
  const { packets, error } = parseChunks([Buffer.concat([good, bytes(0xc0, 0x01, 0x00)])]);
  assert.deepEqual(packets, [{ type: 'pingreq' }]);
  assert.equal(error?.reasonCode, ReasonCode.MalformedPacket);
});

test('onPacket returning false stops parsing and discards the rest of the bytes', () => {
  const parser = new PacketParser();
  const ping = encodePacket({ type: 'pingreq' }, 4);
  let count = 0;
  const error = parser.push(Buffer.concat([ping, ping, ping]), () => {
    count++;
    return false;
  });
  assert.equal(error, undefined);
  assert.equal(count, 1);
  assert.equal(parser.bufferedBytes, 0);
  assert.equal(parser.push(ping, () => assert.fail('stopped parsers ignore input')), undefined);
});

test('encodePublish is shared: copies patched at packetIdOffset decode with their own ids and DUP', () => {
  const shared = encodePublish(
    { type: 'publish', topic: 'fan/out', payload: Buffer.from('m'), qos: 1, retain: false, dup: false, properties: { messageExpiryInterval: 5 } },
    5,
  );
  const copy = Buffer.from(shared.bytes);
  copy.writeUInt16BE(4242, shared.packetIdOffset);
  copy[0]! |= 0x08;
  const { packets, error } = parseChunks([copy], { protocolVersion: 5 });
  assert.equal(error, undefined);
  const publish = packets[0] as PublishPacket;
  assert.equal(publish.packetId, 4242);
  assert.equal(publish.dup, true);
  assert.equal(encodePublish({ type: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 4).packetIdOffset, -1);
});

test('a Remaining Length in a non-minimal encoding (up to 4 bytes) is accepted', () => {
  // PINGREQ with Remaining Length 0 written as 0x80 0x80 0x00: [MQTT-1.5.5-1] binds the sender.
  const { packets, error } = parseChunks([bytes(0xc0, 0x80, 0x80, 0x00)]);
  assert.equal(error, undefined);
  assert.deepEqual(packets, [{ type: 'pingreq' }]);
});

test('push never throws on empty chunks and reports bufferedBytes for a split fixed header', () => {
  const parser = new PacketParser();
  assert.equal(parser.push(Buffer.alloc(0), () => undefined), undefined);
  assert.equal(parser.push(bytes(0x30, 0x80), () => undefined), undefined);
  assert.equal(parser.bufferedBytes, 2);
});

test('PAUSE from onPacket ends the push after that packet and leaves the unparsed bytes in rest, a view of the chunk; pushing rest goes on where it stopped', () => {
  const publishes: PublishPacket[] = [0, 1, 2, 3].map((i) => ({ type: 'publish', topic: `t/${i}`, payload: Buffer.from([i]), qos: 0, retain: false, dup: false }));
  const bytes4 = Buffer.concat(publishes.map((p) => encodePacket(p, 4)));
  // the chunk ends in the middle of the fourth packet
  const chunk = bytes4.subarray(0, bytes4.length - 2);
  const parser = new PacketParser();
  const seen: string[] = [];
  let budget = 2;
  const onPacket = (p: Packet): boolean | typeof PAUSE => {
    seen.push((p as PublishPacket).topic);
    return --budget > 0 || PAUSE;
  };
  assert.equal(parser.push(chunk, onPacket), undefined);
  assert.deepEqual(seen, ['t/0', 't/1']);
  const rest = parser.rest!;
  assert.equal(rest.buffer, chunk.buffer, 'rest is a view of the chunk, not a copy');
  assert.equal(rest.length, chunk.length - encodePacket(publishes[0]!, 4).length - encodePacket(publishes[1]!, 4).length);
  budget = 10;
  assert.equal(parser.push(rest, onPacket), undefined);
  assert.equal(parser.rest, undefined, 'nothing left when the push was not paused');
  assert.deepEqual(seen, ['t/0', 't/1', 't/2']);
  assert.equal(parser.push(bytes4.subarray(bytes4.length - 2), onPacket), undefined);
  assert.deepEqual(seen, ['t/0', 't/1', 't/2', 't/3']);
});
