// The QoS 0 flood: P publishers write PUBLISH packets as fast as TCP accepts for a bounded time, to a
// subscriber that reads and one that never does. Meanwhile this thread opens a new connection every
// `probeIntervalMs` and times its CONNECT → CONNACK, and samples the broker's RSS. It measures and
// reports whether the broker stays up, keeps its memory bounded and serves new clients promptly; it
// asserts nothing.

import { BenchClient } from '../fanout/client.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import { memory } from '../fanout/process-stats.js';
import type { RunningTarget } from '../fanout/targets.js';
import type { FloodFromWorker, FloodWorkerData } from './flood-worker.js';
import { sleep, startWorker } from './measure.js';

export interface FloodOptions {
  readonly publishers: number;
  readonly payload: number;
  readonly seconds: number;
  readonly probeIntervalMs: number;
  readonly timeoutMs: number;
}

export interface FloodResult {
  readonly seconds: number;
  /** Messages written by the publishers (accepted by TCP), per second. */
  readonly publishedPerSecond: number;
  /** Messages the reading subscriber got, per second. */
  readonly deliveredPerSecond: number;
  readonly probes: number;
  /** Probes whose CONNACK did not come within the timeout, or whose connection failed. */
  readonly probesFailed: number;
  /** Probes whose CONNACK took more than 100 ms. */
  readonly probesOver100ms: number;
  readonly probeP50Ms: number;
  readonly probeP99Ms: number;
  readonly probeMaxMs: number;
  readonly rssStartMiB: number | undefined;
  readonly rssMaxMiB: number | undefined;
  readonly rssEndMiB: number | undefined;
  /** The broker process still ran, and a new client was served, after the flood. */
  readonly brokerSurvived: boolean;
  /** Publisher connections the broker closed during the flood. */
  readonly publisherFailures: number;
  /** When the broker did not survive: the last lines it wrote to stderr. */
  readonly brokerStderr: string | undefined;
}

export async function runFlood(target: RunningTarget, options: FloodOptions): Promise<FloodResult> {
  const data: FloodWorkerData = {
    host: target.host,
    port: target.port,
    publishers: options.publishers,
    payload: options.payload,
    seconds: options.seconds,
    prefix: `culex-bench-flood/${process.pid}-${Date.now().toString(36)}`,
    timeoutMs: options.timeoutMs,
  };
  const worker = startWorker(new URL('./flood-worker.ts', import.meta.url), data);
  let flooding = false;
  let report: Extract<FloodFromWorker, { type: 'done' }> | undefined;
  let failure: string | undefined;
  worker.on('message', (message: FloodFromWorker) => {
    if (message.type === 'flooding') flooding = true;
    else if (message.type === 'done') report = message;
    else failure ??= message.message;
  });
  worker.on('error', (error) => (failure ??= `flood thread: ${error.message}`));
  const rss = (): number | undefined => {
    const now = target.pid === undefined ? undefined : memory(target.pid)?.rssMiB;
    return now === undefined || Number.isNaN(now) ? undefined : now;
  };
  const rssStart = rss();
  let rssMax = rssStart;
  const histogram = new LatencyHistogram();
  let probes = 0;
  let probesFailed = 0;
  let probesOver100ms = 0;
  /** One new client's CONNECT → CONNACK; counted in the figures unless it is the check after the flood. */
  const probe = async (counted = true): Promise<boolean> => {
    const t0 = process.hrtime.bigint();
    try {
      const client = await BenchClient.open(target.host, target.port, `culex-bench-probe-${process.pid}-${probes}`, options.timeoutMs);
      const ns = Number(process.hrtime.bigint() - t0);
      client.close();
      if (counted) {
        histogram.record(ns);
        if (ns > 100e6) probesOver100ms++;
      }
      return true;
    } catch {
      if (counted) probesFailed++;
      return false;
    }
  };
  try {
    const started = Date.now();
    while (!flooding && failure === undefined && Date.now() - started < options.timeoutMs * 3) await sleep(10);
    if (!flooding) throw new Error(failure ?? 'the flood did not start');
    const floodStart = performance.now();
    const hardStop = Date.now() + options.seconds * 1000 + options.timeoutMs * 2;
    while (report === undefined && failure === undefined && Date.now() < hardStop) {
      probes++;
      await probe();
      const now = rss();
      if (now !== undefined && (rssMax === undefined || now > rssMax)) rssMax = now;
      await sleep(options.probeIntervalMs);
    }
    const seconds = (performance.now() - floodStart) / 1000;
    if (report === undefined) throw new Error(failure ?? 'the flood thread did not report');
    const done: Extract<FloodFromWorker, { type: 'done' }> = report;
    await sleep(500);
    const alive = rss() !== undefined || target.pid === undefined;
    const served = alive && (await probe(false));
    return {
      seconds,
      publishedPerSecond: done.published / seconds,
      deliveredPerSecond: done.delivered / seconds,
      probes,
      probesFailed,
      probesOver100ms,
      probeP50Ms: histogram.quantileNs(0.5) / 1e6,
      probeP99Ms: histogram.quantileNs(0.99) / 1e6,
      probeMaxMs: histogram.maxNs / 1e6,
      rssStartMiB: rssStart,
      rssMaxMiB: rssMax,
      rssEndMiB: rss(),
      brokerSurvived: alive && served,
      publisherFailures: done.publisherFailures,
      brokerStderr: alive && served ? undefined : target.stderr?.().slice(-2000),
    };
  } finally {
    await worker.terminate();
  }
}
