// CPU time and memory of another process from /proc (Linux), and CPU pinning with taskset: what the
// bench needs to charge a broker's CPU to the deliveries it made, and to keep the broker and the load
// generator off each other's cores.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { toolPath } from './tool-path.js';

/** /proc/PID/stat counts CPU time in USER_HZ ticks, 100 per second on every Linux ABI. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used so far; undefined when /proc cannot tell. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14
    const stime = Number(fields[12]); // field 15
    return (utime + stime) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine has spent busy (every CPU, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export interface Memory {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size (VmHWM), MiB. */
  peakRssMiB: number;
}

export function memory(pid: number): Memory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

export interface Pinning {
  /** Command prefix that runs a broker on its own core, e.g. ['taskset', '-c', '0']; empty when not pinning. */
  readonly brokerPrefix: readonly string[];
  readonly brokerCpus: string | undefined;
  readonly generatorCpus: string | undefined;
}

/**
 * The broker gets CPU 0, the generator the others (CPU 1 on a 2-core machine), when the machine has
 * more than one CPU and taskset exists. Otherwise nothing is pinned and the report says so.
 */
export function choosePinning(enabled: boolean): Pinning {
  const cpus = availableParallelism();
  const taskset = toolPath('taskset');
  if (!enabled || cpus < 2 || taskset === undefined) return { brokerPrefix: [], brokerCpus: undefined, generatorCpus: undefined };
  const generatorCpus = cpus === 2 ? '1' : `1-${cpus - 1}`;
  return { brokerPrefix: [taskset, '-c', '0'], brokerCpus: '0', generatorCpus };
}

/** Pins every thread of this process (and so the threads it starts later) to `cpus`. */
export function pinSelf(cpus: string): void {
  const taskset = toolPath('taskset');
  if (taskset === undefined) return;
  execFileSync(taskset, ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}
