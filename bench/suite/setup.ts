// What `npm run bench` and `npm run bench:compare` do before their first case: pin this process
// (the generator) away from the broker's CPU, size the subscriber threads to the CPUs left, raise
// the open-file limit when idle connections are asked for (capping them at what the machine
// grants), and say all of it in one line.

import { choosePinning, pinSelf, type Pinning } from '../fanout/process-stats.js';
import type { CommonArgs } from './args.js';
import { raiseFileLimit } from './connections.js';
import { describeMachine, type Machine } from './report.js';

export interface RunSetup {
  readonly pinning: Pinning;
  readonly machine: Machine;
  readonly settings: CommonArgs;
  /** The broker's open-file limit for the connections case, when one was set. */
  readonly brokerFileLimit: number | undefined;
}

export function prepareRun(args: CommonArgs, pin: boolean): RunSetup {
  const pinning = choosePinning(pin);
  const machine = describeMachine(pinning);
  if (pinning.generatorCpus !== undefined) pinSelf(pinning.generatorCpus);
  const generatorCpus = pinning.generatorCpus === undefined ? machine.cpus : machine.cpus - 1;
  const settings: CommonArgs = { ...args, workers: args.workers > 0 ? args.workers : Math.max(1, Math.min(4, generatorCpus - 1)) };
  const limits = settings.kinds.includes('connections') ? raiseFileLimit(settings.connections + 1024) : undefined;
  let note = limits?.note;
  if (limits?.broker !== undefined && limits.broker < settings.connections + 1024) {
    // the machine will not give a process more descriptors: ask for what fits, and say so
    settings.connections = Math.max(100, limits.broker - 1024);
    note += `; connections capped at ${settings.connections}`;
  }
  process.stdout.write(
    `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, node ${machine.node}, ${machine.platform}; pinning: ${machine.pinning}; ` +
      `load average ${machine.loadAverage.toFixed(2)}${note ? `; ${note}` : ''}\n`,
  );
  if (machine.loadAverage > machine.cpus / 2) {
    process.stderr.write(`warning: load average ${machine.loadAverage.toFixed(2)} on ${machine.cpus} CPUs: other processes share the cores\n`);
  }
  return { pinning, machine, settings, brokerFileLimit: limits?.broker };
}
