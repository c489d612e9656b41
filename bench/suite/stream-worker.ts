// A subscriber thread of the bench suite: it owns a slice of a scenario's subscriber connections and
// counts every delivery per stream (publisher → subscriber) into shared memory, where the publishers
// read their window; it records the one-way latency of fixed-rate messages, checks each stream's
// order, counts the bytes read, and answers QoS 1 deliveries with PUBACK, one write per chunk read.

import { parentPort, workerData } from 'node:worker_threads';
import type { Packet, QoS } from '../../src/protocol/packets.js';
import { BenchClient } from '../fanout/client.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import { PHASE_OFFSET, Phase, PUBLISHER_OFFSET, SENT_AT_OFFSET, SEQUENCE_OFFSET } from '../fanout/payload.js';
import type { SubscriberShape } from './scenario.js';

export interface StreamWorkerData {
  readonly host: string;
  readonly port: number;
  readonly qos: QoS;
  readonly subscribers: readonly SubscriberShape[];
  readonly publishers: number;
  readonly clientIdPrefix: string;
  readonly timeoutMs: number;
  /** 4, or 5 with a Topic Alias Maximum (0 = none announced). */
  readonly version: 4 | 5;
  readonly topicAliasMaximum: number;
  /**
   * Int32Array over it, two slots per stream: [slot] deliveries received, and [streams + slot] the
   * last sequence number plus 1 (the position the publisher's window is measured from, which a lost
   * message does not hold back).
   */
  readonly progress: SharedArrayBuffer;
  readonly streams: number;
  /** Float64Array over it: [index] the bytes this thread's connections read after subscribing (one writer per slot). */
  readonly bytes: SharedArrayBuffer;
  readonly index: number;
}

export type StreamToWorker = { type: 'finish' };
export type StreamFromWorker =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'done'; histogram: ReturnType<LatencyHistogram['snapshot']>; outOfOrder: number; unexpected: number };

const PUBACK_FIRST_BYTE = 0x40;

const data = workerData as StreamWorkerData;
const port = parentPort!;
const progress = new Int32Array(data.progress);
const bytes = new Float64Array(data.bytes);
const histogram = new LatencyHistogram();
let outOfOrder = 0;
/** Deliveries from a publisher this subscriber should not hear (a broker matching too much). */
let unexpected = 0;
let failed = false;

function post(message: StreamFromWorker): void {
  port.postMessage(message);
}

/** Wires one connection's hot path: count per stream, time, check order, acknowledge. */
function attach(client: BenchClient, subscriber: SubscriberShape, name: string): void {
  // Per publisher index: the stream slot (-1: not ours), the last sequence, the deliveries in this chunk.
  const slotOf = new Int32Array(data.publishers).fill(-1);
  for (const stream of subscriber.streams) slotOf[stream.publisher] = stream.slot;
  const lastSequence = new Float64Array(data.publishers).fill(-1);
  const inChunk = new Int32Array(data.publishers);
  const touched: number[] = [];
  let ackIds: number[] = [];
  let counted = client.socket.bytesRead;
  client.onPacket = (packet: Packet): void => {
    if (packet.type !== 'publish') return;
    const payload = packet.payload;
    const publisher = payload.readUInt16LE(PUBLISHER_OFFSET);
    if (publisher >= data.publishers || slotOf[publisher] === -1) unexpected++;
    else {
      const sequence = payload.readUInt32LE(SEQUENCE_OFFSET);
      if (sequence <= lastSequence[publisher]!) outOfOrder++;
      lastSequence[publisher] = sequence;
      if (inChunk[publisher]++ === 0) touched.push(publisher);
      if (payload[PHASE_OFFSET] === Phase.latency) histogram.record(Number(client.chunkTime - payload.readBigUInt64LE(SENT_AT_OFFSET)));
    }
    if (packet.qos === 1) ackIds.push(packet.packetId!);
  };
  client.onChunkEnd = (): void => {
    const read = client.socket.bytesRead;
    bytes[data.index]! += read - counted;
    counted = read;
    for (const publisher of touched) {
      const slot = slotOf[publisher]!;
      Atomics.add(progress, slot, inChunk[publisher]!);
      Atomics.store(progress, data.streams + slot, lastSequence[publisher]! + 1);
      inChunk[publisher] = 0;
    }
    touched.length = 0;
    if (ackIds.length > 0) {
      const acks = Buffer.allocUnsafe(ackIds.length * 4);
      for (let i = 0; i < ackIds.length; i++) {
        acks[i * 4] = PUBACK_FIRST_BYTE;
        acks[i * 4 + 1] = 2;
        acks.writeUInt16BE(ackIds[i]!, i * 4 + 2);
      }
      ackIds = [];
      client.socket.write(acks);
    }
  };
  client.onFailure = (reason: string): void => {
    if (failed) return;
    failed = true;
    post({ type: 'error', message: `${name}: ${reason}` });
  };
}

async function main(): Promise<void> {
  const clients: BenchClient[] = [];
  port.on('message', (message: StreamToWorker) => {
    if (message.type !== 'finish') return;
    for (const client of clients) {
      client.onFailure = () => {};
      client.close();
    }
    post({ type: 'done', histogram: histogram.snapshot(), outOfOrder, unexpected });
    port.close();
  });
  try {
    await Promise.all(
      data.subscribers.map(async (subscriber, i) => {
        const name = `${data.clientIdPrefix}${i}`;
        const client = await BenchClient.open(data.host, data.port, name, data.timeoutMs, {
          version: data.version,
          topicAliasMaximum: data.topicAliasMaximum,
        });
        clients.push(client);
        await client.subscribe(subscriber.filter, data.qos, data.timeoutMs);
        attach(client, subscriber, name);
      }),
    );
    post({ type: 'ready' });
  } catch (error) {
    failed = true;
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
}

void main();
