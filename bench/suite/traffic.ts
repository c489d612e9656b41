// One traffic scenario (fan-in, fan-out or pairs) against one broker: the subscribers in worker
// threads, the publishers on this thread, then three phases, each bounded in time:
//   1. probe       publish until every stream has a message (the subscriptions are live)
//   2. saturation  (optional) every publisher as fast as its window allows: at most `window` messages
//                  ahead of its slowest stream (and, at QoS 1, of its PUBACKs); deliveries/s measured
//   3. fixed rate  the scenario's offered rate spread evenly over the publishers; one-way latency of
//                  every delivery, the broker's CPU per delivery, and the bytes per delivery read
// Between phases the subscribers are drained; what never arrives is counted as lost.

import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { encodePublish } from '../../src/protocol/writer.js';
import { BenchClient, BENCH_PROTOCOL_VERSION } from '../fanout/client.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import { PHASE_OFFSET, Phase, PUBLISHER_OFFSET, SENT_AT_OFFSET, SEQUENCE_OFFSET } from '../fanout/payload.js';
import { cpuSeconds, memory, type Memory } from '../fanout/process-stats.js';
import type { RunningTarget } from '../fanout/targets.js';
import { shapeOf, type Scenario, type Shape } from './scenario.js';
import { cpuWindow, startWorker, sleep, waitFor, type CpuWindow } from './measure.js';
import type { StreamFromWorker, StreamWorkerData } from './stream-worker.js';

export interface TrafficOptions {
  /** Measured seconds of the fixed-rate phase. */
  readonly seconds: number;
  /** Measured seconds of the saturation phase; 0 skips it. */
  readonly saturationSeconds: number;
  /** Most messages a subscriber may have outstanding, shared among the publishers it hears. */
  readonly window: number;
  readonly workers: number;
  readonly timeoutMs: number;
  /** Subscribers' protocol: 4, or 5 announcing this Topic Alias Maximum (0 = none). */
  readonly subscriberVersion: 4 | 5;
  readonly topicAliasMaximum: number;
  /** Extra topic levels before the scenario's own, to measure long topics (topic aliases). */
  readonly topicPadding: number;
}

export interface TrafficResult {
  readonly deliveriesPerMessage: number;
  readonly saturation:
    | (CpuWindow & { readonly seconds: number; readonly deliveriesPerSecond: number; readonly publishesPerSecond: number; readonly lost: number })
    | undefined;
  readonly fixed: CpuWindow & {
    readonly offeredRate: number;
    readonly offeredDeliveriesPerSecond: number;
    readonly seconds: number;
    readonly deliveries: number;
    readonly lost: number;
    /** Messages not sent because a stream was a whole window behind: the rate was not sustained. */
    readonly skipped: number;
    readonly p50Us: number;
    readonly p90Us: number;
    readonly p99Us: number;
    readonly p999Us: number;
    readonly maxUs: number;
    /** Bytes the subscribers read per delivery (the PUBLISH on the wire, TCP/IP headers aside). */
    readonly bytesPerDelivery: number;
  };
  /** Broker memory after the busiest phase, and its peak over the run. */
  readonly memory: Memory | undefined;
  readonly outOfOrder: number;
  /** Deliveries of a publisher a subscriber's filter does not match (should be 0). */
  readonly unexpected: number;
}

/** Messages per publisher write at saturation: a burst a broker reads in one chunk. */
const MAX_BATCH = 64;
/** Queued QoS 1 messages per client a broker keeps by default (Mosquitto's max_queued_messages). */
const QOS1_QUEUE = 1000;
/** Messages per publisher write in the fixed-rate phase when the timer fell behind. */
const MAX_LATENCY_BURST = 100;

interface Publisher {
  readonly client: BenchClient;
  readonly template: { readonly bytes: Buffer; readonly packetIdOffset: number };
  readonly slots: readonly number[];
  sent: number;
  acked: number;
  packetId: number;
  blocked: boolean;
}

export async function runTraffic(target: RunningTarget, scenario: Scenario, options: TrafficOptions): Promise<TrafficResult> {
  const padding = Array.from({ length: options.topicPadding }, (_, i) => `level-${i}-of-a-long-topic-name`).join('/');
  const prefix = `culex-bench/${process.pid}-${Date.now().toString(36)}${padding === '' ? '' : `/${padding}`}`;
  const shape = shapeOf(scenario.kind, scenario.size, prefix);
  const { qos } = scenario;
  const streams = shape.streamCount;
  const windowPerPublisher = Math.max(8, Math.floor(options.window / shape.publishersPerSubscriber));
  const progress = new Int32Array(new SharedArrayBuffer(2 * streams * Int32Array.BYTES_PER_ELEMENT));
  let failure: string | undefined;
  const fail = (reason: string): void => {
    failure ??= reason;
  };
  const check = (): void => {
    if (failure !== undefined) throw new Error(failure);
  };

  const { workers, done, bytes, ready } = startSubscribers(target, shape, scenario, options, progress, fail);
  const publishers: Publisher[] = [];
  try {
    await Promise.all(
      shape.publisherTopics.map(async (topic, index) => {
        const client = await BenchClient.open(target.host, target.port, `culex-bench-pub-${process.pid}-${index}`, options.timeoutMs);
        const template = encodePublish(
          { type: 'publish', topic, payload: Buffer.alloc(scenario.payload), qos, retain: false, dup: false, ...(qos > 0 ? { packetId: 1 } : {}) },
          BENCH_PROTOCOL_VERSION,
        );
        const publisher: Publisher = { client, template, slots: shape.slotsByPublisher[index]!, sent: 0, acked: 0, packetId: 0, blocked: false };
        client.onPacket = (packet) => {
          if (packet.type === 'puback') publisher.acked++;
        };
        client.onFailure = (reason) => fail(`publisher ${index}: ${reason}`);
        publishers[index] = publisher;
      }),
    );
  } catch (error) {
    for (const p of publishers) p?.client.close();
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  }

  const publish = (index: number, count: number, phase: number): boolean => {
    const p = publishers[index]!;
    const length = p.template.bytes.length;
    const payloadAt = length - scenario.payload;
    const batch = Buffer.allocUnsafe(count * length);
    const sentAt = process.hrtime.bigint();
    for (let i = 0, at = 0; i < count; i++, at += length) {
      p.template.bytes.copy(batch, at);
      if (p.template.packetIdOffset >= 0) {
        p.packetId = p.packetId === 0xffff ? 1 : p.packetId + 1;
        batch.writeUInt16BE(p.packetId, at + p.template.packetIdOffset);
      }
      batch.writeBigUInt64LE(sentAt, at + payloadAt + SENT_AT_OFFSET);
      batch.writeUInt32LE(p.sent + i, at + payloadAt + SEQUENCE_OFFSET);
      batch[at + payloadAt + PHASE_OFFSET] = phase;
      batch.writeUInt16LE(index, at + payloadAt + PUBLISHER_OFFSET);
    }
    p.sent += count;
    return p.client.socket.write(batch);
  };
  /** Messages of publisher `index` not yet at its slowest stream (or, at QoS 1, not acknowledged). */
  const outstanding = (index: number): number => {
    const p = publishers[index]!;
    let position = Number.POSITIVE_INFINITY;
    for (const slot of p.slots) position = Math.min(position, Atomics.load(progress, streams + slot));
    return Math.max(p.sent - position, qos > 0 ? p.sent - p.acked : 0);
  };
  const received = (): number => {
    let sum = 0;
    for (let i = 0; i < streams; i++) sum += Atomics.load(progress, i);
    return sum;
  };
  const expected = (): number => publishers.reduce((sum, p) => sum + p.sent * p.slots.length, 0);
  const sentTotal = (): number => publishers.reduce((sum, p) => sum + p.sent, 0);
  const bytesRead = (): number => bytes.reduce((a, b) => a + b, 0);
  const streamsStarted = (): boolean => {
    for (let i = 0; i < streams; i++) if (Atomics.load(progress, i) === 0) return false;
    return true;
  };
  /** Waits until every delivery of what was sent has arrived, or nothing has arrived for a second. */
  const drain = async (): Promise<void> => {
    const deadline = Date.now() + options.timeoutMs;
    let last = received();
    let lastChange = Date.now();
    while (failure === undefined && received() < expected() && Date.now() < deadline && Date.now() - lastChange < 1000) {
      await sleep(5);
      const now = received();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      }
    }
  };

  try {
    if (!(await waitFor(() => ready() === workers.length || failure !== undefined, options.timeoutMs * 2))) {
      fail(`subscribers not connected within ${options.timeoutMs * 2} ms`);
    }
    check();

    // 1. Probe: every publisher publishes until every stream has a message.
    const probeDeadline = Date.now() + options.timeoutMs;
    while (failure === undefined && !streamsStarted() && Date.now() < probeDeadline) {
      for (let i = 0; i < publishers.length; i++) publish(i, 1, Phase.probe);
      for (let i = 0; i < 20 && !streamsStarted(); i++) await sleep(5);
    }
    check();
    if (!streamsStarted()) throw new Error(`a subscriber got no message within ${options.timeoutMs} ms of publishing`);
    await drain();

    // 2. Saturation.
    let saturation: TrafficResult['saturation'];
    let memoryAfter: Memory | undefined;
    if (options.saturationSeconds > 0) {
      let stop = false;
      const pump = (): void => {
        let wrote = true;
        for (let rounds = 0; rounds < 200 && wrote; rounds++) {
          if (stop || failure !== undefined) return;
          wrote = false;
          for (let i = 0; i < publishers.length; i++) {
            const p = publishers[i]!;
            if (p.blocked) continue;
            const room = windowPerPublisher - outstanding(i);
            if (room < Math.min(MAX_BATCH, windowPerPublisher / 4)) continue;
            wrote = true;
            if (!publish(i, Math.min(room, MAX_BATCH), Phase.throughput)) {
              p.blocked = true;
              p.client.socket.once('drain', () => {
                p.blocked = false;
              });
            }
          }
        }
        if (wrote) setImmediate(pump);
        else setTimeout(pump, 1);
      };
      const base = { expected: expected(), received: received() };
      pump();
      await sleep(Math.min(1000, options.saturationSeconds * 250)); // warm-up
      const start = cpuWindow.mark(target.pid, { sent: sentTotal(), received: received() });
      await sleep(options.saturationSeconds * 1000);
      const end = cpuWindow.mark(target.pid, { sent: sentTotal(), received: received() });
      stop = true;
      memoryAfter = target.pid === undefined ? undefined : memory(target.pid);
      await drain();
      check();
      const seconds = (end.time - start.time) / 1000;
      const deliveries = end.counts.received - start.counts.received;
      saturation = {
        seconds,
        deliveriesPerSecond: deliveries / seconds,
        publishesPerSecond: (end.counts.sent - start.counts.sent) / seconds,
        lost: expected() - base.expected - (received() - base.received),
        ...cpuWindow.between(start, end, deliveries),
      };
    }

    // 3. Fixed rate, spread over the publishers in turn.
    const base = { expected: expected(), received: received(), bytes: bytesRead() };
    const start = cpuWindow.mark(target.pid, { sent: sentTotal(), received: received() });
    let skipped = 0;
    // At a fixed rate the window only marks a broker that fell behind: 200 ms of each publisher's
    // messages; at QoS 1 at most 1,000 per subscriber, Mosquitto's default max_queued_messages (which
    // Culex shares), beyond which a broker rightly drops what it cannot queue.
    const perSecond = scenario.rate / publishers.length;
    const queueShare = Math.floor(QOS1_QUEUE / shape.publishersPerSubscriber);
    const fixedWindow = Math.max(windowPerPublisher, Math.ceil(perSecond * 0.2));
    const boundedWindow = qos > 0 ? Math.min(fixedWindow, Math.max(8, queueShare)) : fixedWindow;
    await new Promise<void>((resolve) => {
      const t0 = performance.now();
      const endAt = t0 + options.seconds * 1000;
      const due = new Int32Array(publishers.length);
      let offered = 0;
      let next = 0;
      const tick = (): void => {
        const now = performance.now();
        if (now >= endAt || failure !== undefined) {
          resolve();
          return;
        }
        const count = Math.min(Math.floor(((now - t0) * scenario.rate) / 1000) + 1 - offered, MAX_LATENCY_BURST * publishers.length);
        if (count > 0) {
          offered += count;
          for (let i = 0; i < count; i++) {
            due[next]!++;
            next = next + 1 === publishers.length ? 0 : next + 1;
          }
          for (let i = 0; i < publishers.length; i++) {
            const n = due[i]!;
            if (n === 0) continue;
            due[i] = 0;
            if (outstanding(i) + n > boundedWindow) skipped += n;
            else publish(i, n, Phase.latency);
          }
        }
        setTimeout(tick, 1);
      };
      tick();
    });
    const end = cpuWindow.mark(target.pid, { sent: sentTotal(), received: received() });
    await drain();
    check();
    // CPU up to the end of the drain: the broker's work for the phase's last messages counts too.
    const brokerCpuEnd = target.pid === undefined ? undefined : cpuSeconds(target.pid);
    const deliveries = received() - base.received;
    const cpu = cpuWindow.between(start, end, deliveries);
    const brokerCpuUsPerDelivery =
      start.brokerCpu !== undefined && brokerCpuEnd !== undefined && deliveries > 0 ? ((brokerCpuEnd - start.brokerCpu) * 1e6) / deliveries : undefined;

    for (const worker of workers) worker.postMessage({ type: 'finish' });
    const reports = await Promise.race([Promise.all(done), sleep(options.timeoutMs).then(() => undefined)]);
    if (reports === undefined) throw new Error('subscriber threads did not report');
    const histogram = new LatencyHistogram();
    let outOfOrder = 0;
    let unexpected = 0;
    for (const report of reports) {
      histogram.merge(report.histogram);
      outOfOrder += report.outOfOrder;
      unexpected += report.unexpected;
    }
    const peak = target.pid === undefined ? undefined : memory(target.pid);
    memoryAfter ??= peak;
    const us = (ns: number): number => ns / 1000;
    return {
      deliveriesPerMessage: shape.deliveriesPerMessage,
      saturation,
      fixed: {
        offeredRate: scenario.rate,
        offeredDeliveriesPerSecond: scenario.rate * shape.deliveriesPerMessage,
        seconds: options.seconds,
        deliveries,
        lost: expected() - base.expected - deliveries,
        skipped,
        p50Us: us(histogram.quantileNs(0.5)),
        p90Us: us(histogram.quantileNs(0.9)),
        p99Us: us(histogram.quantileNs(0.99)),
        p999Us: us(histogram.quantileNs(0.999)),
        maxUs: us(histogram.maxNs),
        bytesPerDelivery: deliveries > 0 ? (bytesRead() - base.bytes) / deliveries : Number.NaN,
        ...cpu,
        brokerCpuUsPerDelivery,
      },
      memory: memoryAfter === undefined ? undefined : { rssMiB: memoryAfter.rssMiB, peakRssMiB: peak?.peakRssMiB ?? memoryAfter.peakRssMiB },
      outOfOrder,
      unexpected,
    };
  } finally {
    for (const p of publishers) {
      p.client.onFailure = () => {};
      p.client.close();
    }
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** The subscribers, spread over the worker threads; `ready()` counts the threads whose subscriptions are in place. */
function startSubscribers(
  target: RunningTarget,
  shape: Shape,
  scenario: Scenario,
  options: TrafficOptions,
  progress: Int32Array,
  fail: (reason: string) => void,
): { workers: Worker[]; done: Promise<Extract<StreamFromWorker, { type: 'done' }>>[]; bytes: Float64Array; ready: () => number } {
  const threads = Math.max(1, Math.min(options.workers, shape.subscribers.length));
  const perThread = Math.ceil(shape.subscribers.length / threads);
  const bytesShared = new SharedArrayBuffer(threads * Float64Array.BYTES_PER_ELEMENT);
  const workers: Worker[] = [];
  const done: Promise<Extract<StreamFromWorker, { type: 'done' }>>[] = [];
  let ready = 0;
  for (let first = 0, index = 0; first < shape.subscribers.length; first += perThread, index++) {
    const data: StreamWorkerData = {
      host: target.host,
      port: target.port,
      qos: scenario.qos,
      subscribers: shape.subscribers.slice(first, first + perThread),
      publishers: shape.publisherTopics.length,
      clientIdPrefix: `culex-bench-sub-${process.pid}-${first}-`,
      timeoutMs: options.timeoutMs,
      version: options.subscriberVersion,
      topicAliasMaximum: options.topicAliasMaximum,
      progress: progress.buffer as SharedArrayBuffer,
      streams: shape.streamCount,
      bytes: bytesShared,
      index,
    };
    const worker = startWorker(new URL('./stream-worker.ts', import.meta.url), data);
    workers.push(worker);
    let onDone!: (message: Extract<StreamFromWorker, { type: 'done' }>) => void;
    done.push(new Promise((resolve) => (onDone = resolve)));
    worker.on('message', (message: StreamFromWorker) => {
      if (message.type === 'ready') ready++;
      else if (message.type === 'done') onDone(message);
      else fail(message.message);
    });
    worker.on('error', (error) => fail(`subscriber thread: ${error.message}`));
  }
  return { workers, done, bytes: new Float64Array(bytesShared), ready: () => ready };
}
