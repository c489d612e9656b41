// A subscriber thread of the fan-out bench: it owns a slice of the subscriber connections, counts
// every delivery into shared memory (the publisher reads the counts to bound its window), records the
// one-way latency of latency-phase messages, and answers QoS 1 deliveries with PUBACK, one write per
// connection per chunk read.

import { parentPort, workerData } from 'node:worker_threads';
import type { Packet, QoS } from '../../src/protocol/packets.js';
import { BenchClient } from './client.js';
import { LatencyHistogram } from './histogram.js';
import { PHASE_OFFSET, Phase, SENT_AT_OFFSET, SEQUENCE_OFFSET } from './payload.js';

export interface SubscriberWorkerData {
  readonly host: string;
  readonly port: number;
  readonly topic: string;
  readonly qos: QoS;
  /** Subscribers [first, first + count) of the run are this thread's. */
  readonly first: number;
  readonly count: number;
  readonly clientIdPrefix: string;
  readonly timeoutMs: number;
  /** Connect with clean session 0, so a broker with persistence records the subscribers' messages. */
  readonly persistentSessions: boolean;
  /**
   * Int32Array over it, two slots per subscriber of the run: [slot] deliveries received, and
   * [subscribers + slot] the sequence number of the last one plus 1 (the position the publisher's
   * window is measured from, which a lost message does not hold back).
   */
  readonly progress: SharedArrayBuffer;
  readonly subscribers: number;
}

export type ToWorker = { type: 'finish' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | {
      type: 'done';
      histogram: ReturnType<LatencyHistogram['snapshot']>;
      /** Deliveries whose sequence number was not above the previous one on the same connection. */
      outOfOrder: number;
    };

const PUBACK_FIRST_BYTE = 0x40;

const data = workerData as SubscriberWorkerData;
const port = parentPort!;
const progress = new Int32Array(data.progress);
const histogram = new LatencyHistogram();
let outOfOrder = 0;
let failed = false;

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** Wires one connection's hot path: count, time, check order, acknowledge. */
function attach(client: BenchClient, slot: number): void {
  let lastSequence = -1;
  let countInChunk = 0;
  let ackIds: number[] = [];
  client.onPacket = (packet: Packet): void => {
    if (packet.type !== 'publish') return;
    const payload = packet.payload;
    countInChunk++;
    const sequence = payload.readUInt32LE(SEQUENCE_OFFSET);
    if (sequence <= lastSequence) outOfOrder++;
    lastSequence = sequence;
    if (payload[PHASE_OFFSET] === Phase.latency) {
      histogram.record(Number(client.chunkTime - payload.readBigUInt64LE(SENT_AT_OFFSET)));
    }
    if (packet.qos === 1) ackIds.push(packet.packetId!);
  };
  client.onChunkEnd = (): void => {
    if (countInChunk > 0) {
      Atomics.add(progress, slot, countInChunk);
      Atomics.store(progress, data.subscribers + slot, lastSequence + 1);
      countInChunk = 0;
    }
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
    post({ type: 'error', message: `subscriber ${slot}: ${reason}` });
  };
}

async function main(): Promise<void> {
  const clients: BenchClient[] = [];
  port.on('message', (message: ToWorker) => {
    if (message.type !== 'finish') return;
    for (const client of clients) {
      client.onFailure = () => {};
      client.close();
    }
    post({ type: 'done', histogram: histogram.snapshot(), outOfOrder });
    port.close();
  });
  try {
    const opening: Promise<void>[] = [];
    for (let i = 0; i < data.count; i++) {
      const slot = data.first + i;
      opening.push(
        (async () => {
          const client = await BenchClient.open(data.host, data.port, `${data.clientIdPrefix}${slot}`, data.timeoutMs, { clean: !data.persistentSessions });
          clients.push(client);
          await client.subscribe(data.topic, data.qos, data.timeoutMs);
          attach(client, slot);
        })(),
      );
    }
    await Promise.all(opening);
    post({ type: 'ready' });
  } catch (error) {
    failed = true;
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
}

void main();
