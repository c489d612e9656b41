// What every scenario of the suite measures around a phase: wall time, the broker's CPU (/proc), this
// generator's CPU and everybody else's; plus the small waits and the worker-thread start they share.

import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { cpuSeconds, machineBusySeconds } from '../fanout/process-stats.js';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 5 ms until `condition` holds (true) or `timeoutMs` has passed (false). */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * A worker thread running a TypeScript module. On Node 20 the `--import tsx` hooks do not reach worker
 * threads, so the worker loads its module through tsx's tsImport.
 */
export function startWorker(module: URL, workerData: unknown): Worker {
  const load = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(module.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(load, { eval: true, workerData });
}

export interface Mark<C> {
  readonly time: number;
  readonly counts: C;
  readonly brokerCpu: number | undefined;
  readonly generatorCpu: NodeJS.CpuUsage;
  readonly machineBusy: number | undefined;
}

export interface CpuWindow {
  /** Broker CPU time (utime + stime) per delivery, µs. */
  readonly brokerCpuUsPerDelivery: number | undefined;
  /** Broker CPU time over wall time, % of one core. */
  readonly brokerCpuPercent: number | undefined;
  /** This process (every thread), % of one core: near the cores it has, the generator is the limit. */
  readonly generatorCpuPercent: number;
  /** Everything else on the machine, % of one core: other work competing for the cores. */
  readonly othersCpuPercent: number | undefined;
}

export const cpuWindow = {
  mark<C>(pid: number | undefined, counts: C): Mark<C> {
    return {
      time: performance.now(),
      counts,
      brokerCpu: pid === undefined ? undefined : cpuSeconds(pid),
      generatorCpu: process.cpuUsage(),
      machineBusy: machineBusySeconds(),
    };
  },

  between<C>(start: Mark<C>, end: Mark<C>, deliveries: number): CpuWindow {
    const seconds = (end.time - start.time) / 1000;
    const broker = start.brokerCpu !== undefined && end.brokerCpu !== undefined ? end.brokerCpu - start.brokerCpu : undefined;
    const generator = (end.generatorCpu.user + end.generatorCpu.system - start.generatorCpu.user - start.generatorCpu.system) / 1e6;
    const busy = start.machineBusy !== undefined && end.machineBusy !== undefined ? end.machineBusy - start.machineBusy : undefined;
    return {
      brokerCpuUsPerDelivery: broker === undefined || deliveries === 0 ? undefined : (broker * 1e6) / deliveries,
      brokerCpuPercent: broker === undefined ? undefined : (broker / seconds) * 100,
      generatorCpuPercent: (generator / seconds) * 100,
      othersCpuPercent: busy === undefined || broker === undefined ? undefined : (Math.max(0, busy - broker - generator) / seconds) * 100,
    };
  },
};
