// Fuzzing the parser, bounded in count and time: random byte streams and mutations of valid packets
// (bit flips, truncation, corrupted lengths, spliced garbage), fed in random splits. push() must never
// throw; it yields packets or a ProtocolError; the outcome must not depend on how the bytes are split;
// and whatever it accepts must re-encode and parse back to the same packet.
// Seed: fixed for reproducibility; CULEX_SEED=<n> runs another sequence. It is printed on every run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketParser, type ParserOptions } from '../../src/protocol/parser.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';
import { VERSIONS, parseChunks, prng, samplePackets, testSeed } from './samples.js';

const SEED = testSeed(0xf022);
const TIME_BUDGET_MS = 3000; // per test; the whole file stays well under 10 s
console.log(`fuzz seed ${SEED} (set CULEX_SEED to replay another)`);

type Rnd = () => number;
const int = (rnd: Rnd, min: number, max: number): number => min + Math.floor(rnd() * (max - min + 1));

interface Outcome {
  packets: Array<{ packet: Packet; version: ProtocolVersion }>;
  error: ProtocolError | undefined;
}

/** Feeds the bytes cut at the given points; asserts push() does not throw and the error is sticky. */
function feed(data: Buffer, cuts: number[], options: ParserOptions): Outcome {
  const parser = new PacketParser(options);
  const packets: Outcome['packets'] = [];
  let error: ProtocolError | undefined;
  let start = 0;
  for (const cut of [...cuts, data.length]) {
    error = parser.push(data.subarray(start, cut), (packet) => {
      packets.push({ packet, version: parser.protocolVersion });
    });
    start = cut;
    if (error !== undefined) break;
  }
  if (error !== undefined) {
    assert.equal(error.kind, 'protocol-error');
    assert.equal(typeof error.reasonCode, 'number');
    assert.ok(error.message.length > 0);
    assert.equal(parser.push(Buffer.from([0xc0, 0x00]), () => assert.fail('a failed parser delivers nothing')), error);
  }
  return { packets, error };
}

function randomCuts(rnd: Rnd, length: number): number[] {
  const cuts = Array.from({ length: int(rnd, 0, 4) }, () => int(rnd, 0, length));
  return cuts.sort((a, b) => a - b);
}

/** Reason code 0x00 may be written in a short form: absent and 0 mean the same (§3.4.2.1). */
function canonical(packet: Packet): Packet {
  if ('reasonCode' in packet && packet.reasonCode === 0 && packet.type !== 'connack') {
    const { reasonCode: _ignored, ...rest } = packet;
    return rest as Packet;
  }
  return packet;
}

/** The properties of an outcome that must hold whatever the input. */
function checkOutcome(data: Buffer, rnd: Rnd, options: ParserOptions): Outcome {
  const whole = feed(data, [], options);
  const split = feed(data, randomCuts(rnd, data.length), options);
  // The bytes, not their chunking, decide the outcome.
  assert.deepEqual(split.packets, whole.packets);
  assert.deepEqual(split.error, whole.error);
  for (const { packet, version } of whole.packets) {
    const again = parseChunks([encodePacket(packet, version)], { ...options, protocolVersion: version });
    assert.equal(again.error, undefined, `an accepted ${packet.type} re-encodes validly: ${again.error?.message}`);
    assert.deepEqual(canonical(again.packets[0]!), canonical(packet));
  }
  return whole;
}

function withSeedOnFailure(name: string, run: () => void): void {
  try {
    run();
  } catch (error) {
    throw new Error(`${name} failed with CULEX_SEED=${SEED}: ${(error as Error).message}`, { cause: error });
  }
}

const SIDES = ['server', 'client'] as const;

test(`random byte streams never make push() throw (seed ${SEED})`, () => {
  const rnd = prng(SEED);
  const deadline = Date.now() + TIME_BUDGET_MS;
  let runs = 0;
  let accepted = 0;
  withSeedOnFailure('random streams', () => {
    for (; runs < 20_000 && Date.now() < deadline; runs++) {
      const data = Buffer.from(Array.from({ length: int(rnd, 0, 64) }, () => int(rnd, 0, 255)));
      // Bias the first byte towards real packet types so that bodies get exercised, not just headers.
      if (data.length > 0 && rnd() < 0.7) data[0] = (int(rnd, 1, 15) << 4) | (rnd() < 0.8 ? [0, 2, 2, 0][int(rnd, 0, 3)]! : int(rnd, 0, 15));
      if (data.length > 1 && rnd() < 0.7) data[1] = int(rnd, 0, data.length - 2);
      const options = { protocolVersion: VERSIONS[int(rnd, 0, 2)]!, side: SIDES[int(rnd, 0, 1)]! };
      accepted += checkOutcome(data, rnd, options).packets.length;
    }
  });
  assert.ok(runs >= 1000, `${runs} streams in the time budget`);
  console.log(`random streams: ${runs} runs, ${accepted} packets accepted`);
});

type Mutation = (data: Buffer, rnd: Rnd) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  bitFlips(data, rnd) {
    const out = Buffer.from(data);
    for (let n = int(rnd, 1, 3); n > 0 && out.length > 0; n--) out[int(rnd, 0, out.length - 1)]! ^= 1 << int(rnd, 0, 7);
    return out;
  },
  truncate(data, rnd) {
    return data.subarray(0, int(rnd, 0, data.length));
  },
  lengthField(data, rnd) {
    const out = Buffer.from(data);
    if (out.length > 1) out[1] = rnd() < 0.3 ? 0xff : int(rnd, 0, 255);
    return out;
  },
  spliceGarbage(data, rnd) {
    const at = int(rnd, 0, data.length);
    const garbage = Buffer.from(Array.from({ length: int(rnd, 1, 8) }, () => int(rnd, 0, 255)));
    return Buffer.concat([data.subarray(0, at), garbage, data.subarray(at)]);
  },
  dropByte(data, rnd) {
    if (data.length === 0) return data;
    const at = int(rnd, 0, data.length - 1);
    return Buffer.concat([data.subarray(0, at), data.subarray(at + 1)]);
  },
  setByte(data, rnd) {
    const out = Buffer.from(data);
    if (out.length > 0) out[int(rnd, 0, out.length - 1)] = [0x00, 0x7f, 0x80, 0xff, 0x23, 0x2b][int(rnd, 0, 5)]!;
    return out;
  },
};

test(`mutations of valid packets never make push() throw (seed ${SEED})`, () => {
  const rnd = prng(SEED + 1);
  const corpus = VERSIONS.flatMap((version) =>
    samplePackets(version).map((packet) => ({ version, bytes: encodePacket(packet, version) })),
  );
  const names = Object.keys(MUTATIONS);
  const deadline = Date.now() + TIME_BUDGET_MS;
  let runs = 0;
  let errors = 0;
  withSeedOnFailure('mutations', () => {
    for (; runs < 30_000 && Date.now() < deadline; runs++) {
      // One to three packets back to back, one of them mutated once or twice.
      const picked = Array.from({ length: int(rnd, 1, 3) }, () => corpus[int(rnd, 0, corpus.length - 1)]!);
      const target = int(rnd, 0, picked.length - 1);
      const parts = picked.map(({ bytes }, i) => {
        if (i !== target) return bytes;
        let mutated = bytes;
        for (let n = int(rnd, 1, 2); n > 0; n--) mutated = MUTATIONS[names[int(rnd, 0, names.length - 1)]!]!(mutated, rnd);
        return mutated;
      });
      const options = { protocolVersion: picked[0]!.version, side: SIDES[int(rnd, 0, 1)]! };
      if (checkOutcome(Buffer.concat(parts), rnd, options).error !== undefined) errors++;
    }
  });
  assert.ok(runs >= 1000, `${runs} mutations in the time budget`);
  assert.ok(errors > 0, 'some mutations are rejected');
  console.log(`mutations: ${runs} runs, ${errors} rejected with a ProtocolError`);
});

test('a tiny maxPacketSize and huge announced lengths are rejected before anything is buffered', () => {
  const rnd = prng(SEED + 2);
  for (let i = 0; i < 2000; i++) {
    const parser = new PacketParser({ maxPacketSize: int(rnd, 2, 64) });
    const data = Buffer.from([int(rnd, 1, 14) << 4, 0xff, 0xff, 0xff, 0x7f, ...Array.from({ length: 8 }, () => int(rnd, 0, 255))]);
    const error = parser.push(data, () => undefined);
    assert.ok(error !== undefined);
    assert.equal(parser.bufferedBytes, 0);
  }
});
