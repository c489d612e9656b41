// Codec micro-benchmark: parse and encode throughput of PUBLISH packets (16 B and 1 KiB payloads,
// QoS 0 and 1, MQTT 3.1.1 and 5.0), Culex's codec against mqtt-packet, the codec under MQTT.js.
// Run: node --import tsx bench/codec.ts   (bounded: 5 rounds of 120 ms per cell, about 20 s in all)
//
// Parse feeds 64 KiB chunks holding many packets back to back, as a busy socket delivers them.
// Encode writes one packet per call, as the broker does once per message before fanning it out.

import mqttPacket from 'mqtt-packet';
import { PacketParser } from '../src/protocol/parser.js';
import { encodePublish } from '../src/protocol/writer.js';
import type { ProtocolVersion, PublishPacket, QoS } from '../src/protocol/packets.js';

const ROUNDS = 5;
const ROUND_MS = 120;
const WARMUP_MS = 150;
const TOPIC = 'sensors/building-12/floor-3/temperature';

/**
 * Runs fn in batches for ROUNDS rounds; returns the median operations per second (fn returns its op
 * count). The median of short rounds resists the noise of a shared machine better than one long run.
 */
function measure(fn: () => number): number {
  const run = (ms: number): number => {
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    let ops = 0;
    let now = start;
    while (now < end) {
      ops += fn();
      now = process.hrtime.bigint();
    }
    return ops / (Number(now - start) / 1e9);
  };
  run(WARMUP_MS);
  const rates = Array.from({ length: ROUNDS }, () => run(ROUND_MS)).sort((a, b) => a - b);
  return rates[ROUNDS >> 1]!;
}

interface Case {
  name: string;
  version: ProtocolVersion;
  packet: PublishPacket;
}

function publishCase(payloadSize: number, qos: QoS, version: ProtocolVersion): Case {
  const packet: PublishPacket = {
    type: 'publish',
    topic: TOPIC,
    payload: Buffer.alloc(payloadSize, 0x61),
    qos,
    retain: false,
    dup: false,
  };
  if (qos > 0) packet.packetId = 1234;
  if (version === 5) packet.properties = { messageExpiryInterval: 60, contentType: 'application/json' };
  const size = payloadSize >= 1024 ? `${payloadSize / 1024} KiB` : `${payloadSize} B`;
  return { name: `${size} QoS ${qos} v${version === 5 ? '5' : '3.1.1'}`, version, packet };
}

function theirPacket(packet: PublishPacket): mqttPacket.IPublishPacket {
  const out: mqttPacket.IPublishPacket = {
    cmd: 'publish',
    topic: packet.topic,
    payload: packet.payload,
    qos: packet.qos,
    retain: packet.retain,
    dup: packet.dup,
  };
  if (packet.packetId !== undefined) out.messageId = packet.packetId;
  if (packet.properties !== undefined) {
    out.properties = { messageExpiryInterval: packet.properties.messageExpiryInterval!, contentType: packet.properties.contentType! };
  }
  return out;
}

/** A 64 KiB-ish chunk of whole packets. */
function chunkOf(bytes: Buffer): { chunk: Buffer; count: number } {
  const count = Math.max(1, Math.floor(65_536 / bytes.length));
  return { chunk: Buffer.concat(Array.from({ length: count }, () => bytes)), count };
}

function benchCase({ version, packet }: Case) {
  const encoded = encodePublish(packet, version).bytes;
  const { chunk, count } = chunkOf(encoded);
  let sink = 0;

  const culexParser = new PacketParser({ protocolVersion: version, side: 'server' });
  const onPacket = (): void => {
    sink++;
  };
  const parseCulex = measure(() => {
    culexParser.push(chunk, onPacket);
    return count;
  });

  const theirParser = mqttPacket.parser({ protocolVersion: version });
  theirParser.on('packet', () => {
    sink++;
  });
  const parseTheirs = measure(() => {
    theirParser.parse(chunk);
    return count;
  });

  const encodeCulex = measure(() => {
    for (let i = 0; i < 100; i++) sink += encodePublish(packet, version).bytes.length;
    return 100;
  });
  const their = theirPacket(packet);
  const options = { protocolVersion: version };
  const encodeTheirs = measure(() => {
    for (let i = 0; i < 100; i++) sink += mqttPacket.generate(their, options).length;
    return 100;
  });
  if (sink === 0) throw new Error('unreachable: keeps the work observable');
  return { size: encoded.length, parseCulex, parseTheirs, encodeCulex, encodeTheirs };
}

const fmt = (opsPerSecond: number): string => `${(opsPerSecond / 1e6).toFixed(2)} M/s`;
const ratio = (ours: number, theirs: number): string => `${(ours / theirs).toFixed(1)}×`;

const cases: Case[] = [
  publishCase(16, 0, 4),
  publishCase(16, 1, 4),
  publishCase(1024, 0, 4),
  publishCase(1024, 1, 4),
  publishCase(16, 1, 5),
  publishCase(1024, 1, 5),
];

const { cpus, loadavg } = await import('node:os');
console.log(
  `Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}; topic "${TOPIC}"`,
);
console.log('');
console.log('| PUBLISH | bytes | parse Culex | parse mqtt-packet | ratio | encode Culex | encode mqtt-packet | ratio |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const c of cases) {
  const r = benchCase(c);
  console.log(
    `| ${c.name} | ${r.size} | ${fmt(r.parseCulex)} | ${fmt(r.parseTheirs)} | ${ratio(r.parseCulex, r.parseTheirs)} | ` +
      `${fmt(r.encodeCulex)} | ${fmt(r.encodeTheirs)} | ${ratio(r.encodeCulex, r.encodeTheirs)} |`,
  );
}
console.log('');
console.log('Packets per second (M/s = millions); parse feeds 64 KiB chunks of back-to-back packets.');
