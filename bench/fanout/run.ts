// One fan-out run against one broker: N subscribers on one topic in worker threads, one publisher
// on this thread, then three phases, each bounded in time:
//   1. probe       publish until every subscriber has a message (the subscriptions are live)
//   2. throughput  publish as fast as the window allows: at most `window` messages ahead of the
//                  slowest subscriber (and, at QoS 1, of the publisher's PUBACKs); after a warm-up,
//                  deliveries/s and the broker's CPU per delivery are measured
//   3. latency     publish at a fixed rate; every delivery's one-way latency is recorded
// Between phases the subscribers are drained, and what never arrives is counted as lost.

import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { QoS } from '../../src/protocol/packets.js';
import { encodePublish } from '../../src/protocol/writer.js';
import { BenchClient, BENCH_PROTOCOL_VERSION } from './client.js';
import { LatencyHistogram } from './histogram.js';
import { PHASE_OFFSET, Phase, SENT_AT_OFFSET, SEQUENCE_OFFSET } from './payload.js';
import { cpuSeconds, machineBusySeconds, memory, type Memory } from './process-stats.js';
import type { FromWorker, SubscriberWorkerData } from './subscriber-worker.js';
import type { RunningTarget } from './targets.js';

export interface RunOptions {
  readonly subscribers: number;
  readonly qos: QoS;
  readonly payload: number;
  /** Offered rate of the latency phase, messages/s (each delivered to every subscriber). */
  readonly rate: number;
  /** Measured seconds of the throughput phase, and of the latency phase. */
  readonly seconds: number;
  /** Most messages the publisher may be ahead of the slowest subscriber. */
  readonly window: number;
  readonly workers: number;
  /** Bound on every handshake and every wait that is not a measurement. */
  readonly timeoutMs: number;
  /** Subscribers connect with clean session 0 (their sessions persist; see --persistent-sessions). */
  readonly persistentSessions: boolean;
}

export interface FanoutResult {
  readonly throughput: {
    readonly seconds: number;
    readonly deliveriesPerSecond: number;
    readonly publishesPerSecond: number;
    /** Deliveries the broker never made during the phase (sent × subscribers − received). */
    readonly lost: number;
    readonly brokerCpuUsPerDelivery: number | undefined;
    /** Broker CPU time over wall time, % of one core. */
    readonly brokerCpuPercent: number | undefined;
    /** This process (publisher + subscriber threads), % of one core: near the cores it has, it is the limit. */
    readonly generatorCpuPercent: number;
    /** Everything else on the machine, % of one core (see othersPercent). */
    readonly othersCpuPercent: number | undefined;
  };
  readonly latency: {
    readonly offeredRate: number;
    readonly seconds: number;
    readonly deliveries: number;
    readonly lost: number;
    /** Messages not sent because the slowest subscriber was a whole window behind: the rate was not sustained. */
    readonly skipped: number;
    readonly p50Us: number;
    readonly p90Us: number;
    readonly p99Us: number;
    readonly p999Us: number;
    readonly maxUs: number;
    readonly brokerCpuUsPerDelivery: number | undefined;
    readonly generatorCpuPercent: number;
    readonly othersCpuPercent: number | undefined;
  };
  /** Broker memory at the end of the throughput phase, and its peak over the run. */
  readonly memory: Memory | undefined;
  readonly outOfOrder: number;
}

/** Messages per publisher write at saturation: a burst a broker reads in one chunk. */
const MAX_BATCH = 64;
/** Messages per write in the latency phase when the timer fell behind (keeps the offered rate honest). */
const MAX_LATENCY_BURST = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 5 ms until `condition` holds (true) or `timeoutMs` has passed (false). */
async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(5);
  }
  return true;
}

export async function runFanout(target: RunningTarget, options: RunOptions): Promise<FanoutResult> {
  const { subscribers, qos, window } = options;
  const topic = `culex-bench/fanout/${process.pid}`;
  // Per subscriber: deliveries received, then (at subscribers + i) the position reached (last sequence + 1).
  const shared = new SharedArrayBuffer(2 * subscribers * Int32Array.BYTES_PER_ELEMENT);
  const progress = new Int32Array(shared);
  let failure: string | undefined;
  const fail = (reason: string): void => {
    failure ??= reason;
  };

  // Subscribers first, spread over the worker threads.
  const workers: Worker[] = [];
  const done: Promise<Extract<FromWorker, { type: 'done' }>>[] = [];
  let ready = 0;
  const perWorker = Math.ceil(subscribers / options.workers);
  for (let first = 0; first < subscribers; first += perWorker) {
    const data: SubscriberWorkerData = {
      host: target.host,
      port: target.port,
      topic,
      qos,
      first,
      count: Math.min(perWorker, subscribers - first),
      clientIdPrefix: `culex-bench-sub-${process.pid}-`,
      timeoutMs: options.timeoutMs,
      persistentSessions: options.persistentSessions,
      progress: shared,
      subscribers,
    };
    const worker = startWorker(new URL('./subscriber-worker.ts', import.meta.url), data);
    workers.push(worker);
    let onDone!: (message: Extract<FromWorker, { type: 'done' }>) => void;
    done.push(new Promise((resolve) => (onDone = resolve)));
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') ready++;
      else if (message.type === 'done') onDone(message);
      else fail(message.message);
    });
    worker.on('error', (error) => fail(`subscriber thread: ${error.message}`));
  }

  const publisher = await BenchClient.open(target.host, target.port, `culex-bench-pub-${process.pid}`, options.timeoutMs).catch(async (error: unknown) => {
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  });
  let acked = 0;
  publisher.onPacket = (packet) => {
    if (packet.type === 'puback') acked++;
  };
  publisher.onFailure = (reason) => fail(`publisher: ${reason}`);

  // One encoded PUBLISH, copied per message; each copy gets its packet id, send time, sequence and phase.
  const template = encodePublish(
    { type: 'publish', topic, payload: Buffer.alloc(options.payload), qos, retain: false, dup: false, ...(qos > 0 ? { packetId: 1 } : {}) },
    BENCH_PROTOCOL_VERSION,
  );
  const packetLength = template.bytes.length;
  const payloadAt = packetLength - options.payload;
  let sent = 0;
  let packetId = 0;
  const publish = (count: number, phase: number): boolean => {
    const batch = Buffer.allocUnsafe(count * packetLength);
    const sentAt = process.hrtime.bigint();
    for (let i = 0, at = 0; i < count; i++, at += packetLength) {
      template.bytes.copy(batch, at);
      if (template.packetIdOffset >= 0) {
        packetId = packetId === 0xffff ? 1 : packetId + 1;
        batch.writeUInt16BE(packetId, at + template.packetIdOffset);
      }
      batch.writeBigUInt64LE(sentAt, at + payloadAt + SENT_AT_OFFSET);
      batch.writeUInt32LE(sent + i, at + payloadAt + SEQUENCE_OFFSET);
      batch[at + payloadAt + PHASE_OFFSET] = phase;
    }
    sent += count;
    return publisher.socket.write(batch);
  };
  /** The position of the slowest subscriber: messages sent before it have reached everyone (or were lost). */
  const slowest = (): number => {
    let min = Atomics.load(progress, subscribers);
    for (let i = subscribers + 1; i < 2 * subscribers; i++) {
      const n = Atomics.load(progress, i);
      if (n < min) min = n;
    }
    return min;
  };
  const total = (): number => {
    let sum = 0;
    for (let i = 0; i < subscribers; i++) sum += Atomics.load(progress, i);
    return sum;
  };
  const outstanding = (): number => Math.max(sent - slowest(), qos > 0 ? sent - acked : 0);

  /** Waits until every delivery of what was sent has arrived, or nothing has arrived for a while. */
  const drain = async (): Promise<void> => {
    const deadline = Date.now() + options.timeoutMs;
    let last = total();
    let lastChange = Date.now();
    while (failure === undefined && total() < sent * subscribers && Date.now() < deadline && Date.now() - lastChange < 1000) {
      await sleep(5);
      const now = total();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      }
    }
  };
  const check = (): void => {
    if (failure !== undefined) throw new Error(failure);
  };

  try {
    if (!(await waitFor(() => ready === workers.length || failure !== undefined, options.timeoutMs * 2))) {
      fail(`subscribers not connected within ${options.timeoutMs * 2} ms`);
    }
    check();

    // 1. Probe: until every subscriber has a message.
    const probeDeadline = Date.now() + options.timeoutMs;
    while (failure === undefined && slowest() === 0 && Date.now() < probeDeadline) {
      publish(1, Phase.probe);
      for (let i = 0; i < 20 && slowest() === 0; i++) await sleep(5);
    }
    check();
    if (slowest() === 0) throw new Error(`a subscriber got no message within ${options.timeoutMs} ms of publishing`);
    await drain();

    // 2. Throughput at saturation.
    const warmupMs = Math.min(1000, options.seconds * 250);
    let stop = false;
    const pump = (): void => {
      for (let rounds = 0; rounds < 1000; rounds++) {
        if (stop || failure !== undefined) return;
        const room = window - outstanding();
        if (room < Math.min(MAX_BATCH, window / 4)) {
          setTimeout(pump, 1);
          return;
        }
        if (!publish(Math.min(room, MAX_BATCH), Phase.throughput)) {
          publisher.socket.once('drain', pump);
          return;
        }
      }
      setImmediate(pump);
    };
    const throughputBase = { sent, total: total() };
    pump();
    await sleep(warmupMs);
    const start = snapshot(target.pid, sent, total());
    await sleep(options.seconds * 1000);
    const end = snapshot(target.pid, sent, total());
    stop = true;
    const memoryAtSaturation = target.pid === undefined ? undefined : memory(target.pid);
    await drain();
    check();
    const throughputLost = (sent - throughputBase.sent) * subscribers - (total() - throughputBase.total);

    // 3. Latency at a fixed offered rate.
    const latencyBase = snapshot(target.pid, sent, total());
    let skipped = 0;
    await new Promise<void>((resolve) => {
      const t0 = performance.now();
      const endAt = t0 + options.seconds * 1000;
      let offered = 0;
      const tick = (): void => {
        const now = performance.now();
        if (now >= endAt || failure !== undefined) {
          resolve();
          return;
        }
        const due = Math.min(Math.floor(((now - t0) * options.rate) / 1000) + 1 - offered, MAX_LATENCY_BURST);
        if (due > 0) {
          offered += due;
          if (outstanding() + due > window) skipped += due;
          else publish(due, Phase.latency);
        }
        setTimeout(tick, 1);
      };
      tick();
    });
    const latencyEnd = snapshot(target.pid, sent, total());
    await drain();
    check();
    const latencyCpu = target.pid === undefined ? undefined : cpuSeconds(target.pid);
    const latencyDeliveries = total() - latencyBase.total;
    const latencySent = sent - latencyBase.sent;

    // Collect the histograms.
    for (const worker of workers) worker.postMessage({ type: 'finish' });
    const reports = await Promise.race([Promise.all(done), sleep(options.timeoutMs).then(() => undefined)]);
    if (reports === undefined) throw new Error('subscriber threads did not report');
    const histogram = new LatencyHistogram();
    let outOfOrder = 0;
    for (const report of reports) {
      histogram.merge(report.histogram);
      outOfOrder += report.outOfOrder;
    }
    const peak = target.pid === undefined ? undefined : memory(target.pid);

    const seconds = (end.time - start.time) / 1000;
    const deliveries = end.total - start.total;
    const brokerCpu = start.brokerCpu !== undefined && end.brokerCpu !== undefined ? end.brokerCpu - start.brokerCpu : undefined;
    const us = (ns: number): number => ns / 1000;
    return {
      throughput: {
        seconds,
        deliveriesPerSecond: deliveries / seconds,
        publishesPerSecond: (end.sent - start.sent) / seconds,
        lost: throughputLost,
        brokerCpuUsPerDelivery: brokerCpu === undefined ? undefined : (brokerCpu * 1e6) / deliveries,
        brokerCpuPercent: brokerCpu === undefined ? undefined : (brokerCpu / seconds) * 100,
        generatorCpuPercent: generatorPercent(start, end),
        othersCpuPercent: othersPercent(start, end),
      },
      latency: {
        offeredRate: options.rate,
        seconds: options.seconds,
        deliveries: latencyDeliveries,
        lost: latencySent * subscribers - latencyDeliveries,
        skipped,
        p50Us: us(histogram.quantileNs(0.5)),
        p90Us: us(histogram.quantileNs(0.9)),
        p99Us: us(histogram.quantileNs(0.99)),
        p999Us: us(histogram.quantileNs(0.999)),
        maxUs: us(histogram.maxNs),
        brokerCpuUsPerDelivery:
          latencyBase.brokerCpu !== undefined && latencyCpu !== undefined && latencyDeliveries > 0
            ? ((latencyCpu - latencyBase.brokerCpu) * 1e6) / latencyDeliveries
            : undefined,
        generatorCpuPercent: generatorPercent(latencyBase, latencyEnd),
        othersCpuPercent: othersPercent(latencyBase, latencyEnd),
      },
      memory: memoryAtSaturation === undefined ? undefined : { rssMiB: memoryAtSaturation.rssMiB, peakRssMiB: peak?.peakRssMiB ?? memoryAtSaturation.peakRssMiB },
      outOfOrder,
    };
  } finally {
    publisher.onFailure = () => {};
    publisher.close();
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/**
 * A worker thread running a TypeScript module. On Node 20 the `--import tsx` hooks do not reach worker
 * threads, so the worker loads its module through tsx's tsImport; the transpiled code runs as it would
 * on the main thread.
 */
function startWorker(module: URL, workerData: SubscriberWorkerData): Worker {
  const load = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(module.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(load, { eval: true, workerData });
}

interface Snapshot {
  readonly time: number;
  readonly sent: number;
  readonly total: number;
  readonly brokerCpu: number | undefined;
  readonly generatorCpu: NodeJS.CpuUsage;
  readonly machineBusy: number | undefined;
}

/** CPU used by this process (every thread) between two snapshots, % of one core. */
function generatorPercent(start: Snapshot, end: Snapshot): number {
  const used = end.generatorCpu.user + end.generatorCpu.system - start.generatorCpu.user - start.generatorCpu.system;
  return (used / 1e6 / ((end.time - start.time) / 1000)) * 100;
}

/**
 * CPU the rest of the machine used between two snapshots (busy time of every CPU minus the broker's
 * and the generator's), % of one core: other work competing for the cores, which latencies show.
 * Undefined when the broker's PID is unknown (its share cannot be told apart).
 */
function othersPercent(start: Snapshot, end: Snapshot): number | undefined {
  if (start.machineBusy === undefined || end.machineBusy === undefined || start.brokerCpu === undefined || end.brokerCpu === undefined) return undefined;
  const generator = (end.generatorCpu.user + end.generatorCpu.system - start.generatorCpu.user - start.generatorCpu.system) / 1e6;
  const others = end.machineBusy - start.machineBusy - (end.brokerCpu - start.brokerCpu) - generator;
  return (Math.max(0, others) / ((end.time - start.time) / 1000)) * 100;
}

function snapshot(pid: number | undefined, sent: number, total: number): Snapshot {
  return {
    time: performance.now(),
    sent,
    total,
    brokerCpu: pid === undefined ? undefined : cpuSeconds(pid),
    generatorCpu: process.cpuUsage(),
    machineBusy: machineBusySeconds(),
  };
}
