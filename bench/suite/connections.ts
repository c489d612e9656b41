// Connection capacity: opens C idle MQTT connections (CONNECT/CONNACK, no subscription) as fast as a
// bounded number of handshakes in flight allows, and reports the time it took and the broker's RSS per
// idle connection (RSS with them, settled, minus RSS before). Past ~28,000 connections one loopback
// source address runs out of ephemeral ports, so the connections spread over 127.0.0.1, .2, ….

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BenchClient } from '../fanout/client.js';
import { memory } from '../fanout/process-stats.js';
import type { RunningTarget } from '../fanout/targets.js';
import { toolPath } from '../fanout/tool-path.js';
import { sleep } from './measure.js';

export interface ConnectionsOptions {
  readonly connections: number;
  /** Handshakes in flight at once. */
  readonly concurrency: number;
  /** Bound on the whole opening, ms. */
  readonly timeoutMs: number;
}

export interface ConnectionsResult {
  readonly asked: number;
  readonly opened: number;
  /** The first failure, when not every connection opened. */
  readonly failure: string | undefined;
  readonly seconds: number;
  readonly connectionsPerSecond: number;
  readonly rssBeforeMiB: number | undefined;
  readonly rssAfterMiB: number | undefined;
  /** (RSS after − RSS before) / opened, KiB. */
  readonly rssPerConnectionKiB: number | undefined;
  /** This generator's open-file limit during the run (it holds one descriptor per connection too). */
  readonly generatorFileLimit: number | undefined;
}

const PORTS_PER_ADDRESS = 25_000;

export async function runConnections(target: RunningTarget, options: ConnectionsOptions): Promise<ConnectionsResult> {
  const clients: BenchClient[] = [];
  const before = target.pid === undefined ? undefined : memory(target.pid);
  let failure: string | undefined;
  let next = 0;
  const started = performance.now();
  const deadline = Date.now() + options.timeoutMs;
  const opener = async (): Promise<void> => {
    while (failure === undefined && next < options.connections && Date.now() < deadline) {
      const i = next++;
      try {
        const client = await BenchClient.open(target.host, target.port, `culex-bench-idle-${process.pid}-${i}`, 10_000, {
          localAddress: target.host === '127.0.0.1' ? `127.0.0.${1 + Math.floor(i / PORTS_PER_ADDRESS)}` : undefined,
        });
        client.onFailure = (reason) => (failure ??= `connection ${i} closed: ${reason}`);
        clients.push(client);
      } catch (error) {
        failure ??= `connection ${i}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.connections) }, opener));
  const seconds = (performance.now() - started) / 1000;
  if (failure === undefined && clients.length < options.connections) failure = `only ${clients.length} connections within ${options.timeoutMs} ms`;
  await sleep(1000); // let the broker's allocations settle before reading its RSS
  const after = target.pid === undefined ? undefined : memory(target.pid);
  for (const client of clients) {
    client.onFailure = () => {};
    client.close();
  }
  await sleep(Math.min(3000, 200 + clients.length / 20)); // the DISCONNECTs go out before the broker is stopped
  return {
    asked: options.connections,
    opened: clients.length,
    failure,
    seconds,
    connectionsPerSecond: clients.length / seconds,
    rssBeforeMiB: before?.rssMiB,
    rssAfterMiB: after?.rssMiB,
    rssPerConnectionKiB: before !== undefined && after !== undefined && clients.length > 0 ? ((after.rssMiB - before.rssMiB) * 1024) / clients.length : undefined,
    generatorFileLimit: fileLimit(process.pid),
  };
}

/** The soft open-file limit of a process, from /proc/PID/limits. */
export function fileLimit(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** The hard open-file limit of this process. */
function hardFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = line?.split(/\s{2,}/)[2];
    return hard === undefined || hard === 'unlimited' ? undefined : Number(hard);
  } catch {
    return undefined;
  }
}

/**
 * Raises this process's open-file limit to `wanted` with prlimit (above the hard limit only as root),
 * and returns the limit a broker can be started with: `wanted` when it may be raised, else the hard limit.
 */
export function raiseFileLimit(wanted: number): { generator: number | undefined; broker: number | undefined; note: string } {
  const prlimit = toolPath('prlimit');
  const hard = hardFileLimit();
  const root = process.getuid?.() === 0;
  const possible = root || hard === undefined ? wanted : Math.min(wanted, hard);
  if (prlimit !== undefined) {
    try {
      execFileSync(prlimit, ['--pid', String(process.pid), `--nofile=${possible}:${root ? possible : (hard ?? possible)}`], { stdio: 'ignore' });
    } catch {
      // keep the current limit; the report shows it
    }
  }
  const generator = fileLimit(process.pid);
  // Root without CAP_SYS_RESOURCE (a container) may not pass the hard limit either: what this
  // process got is what a broker started by it can get.
  const granted = generator === undefined ? possible : Math.min(possible, generator);
  const note =
    prlimit === undefined
      ? 'prlimit not found: open-file limits left as they were'
      : granted < wanted
        ? `open-file limit capped at ${granted} (raising it to ${wanted} was refused)`
        : `open-file limit raised to ${possible} with prlimit`;
  return { generator, broker: prlimit === undefined ? undefined : granted, note };
}
