// Fan-out load generator: one publisher → N subscribers on one topic, against any MQTT broker.
//   node --import tsx bench/fanout.ts [--target culex|forwarder|mosquitto[,…]] [--host H --port N]
//        [--subscribers 100] [--qos 0] [--payload 16] [--rate 1000] [--seconds 10] …   (--help for all)
// Without --port it starts the target broker itself as a child process on a free port, pinned to CPU 0
// while this generator takes the other CPUs, and stops it by PID at the end. It measures deliveries/s
// at saturation, one-way latency at a fixed offered rate, and the broker's CPU time per delivery and
// memory (/proc). Prints a table, then one JSON line per target. Every phase is bounded in time.

import { availableParallelism, cpus, loadavg } from 'node:os';
import type { QoS } from '../src/protocol/packets.js';
import { MIN_PAYLOAD } from './fanout/payload.js';
import { choosePinning, pinSelf, type Pinning } from './fanout/process-stats.js';
import { runFanout, type FanoutResult, type RunOptions } from './fanout/run.js';
import { externalTarget, startTarget, TARGET_NAMES, type RunningTarget, type TargetName } from './fanout/targets.js';

const usage = `Usage: node --import tsx bench/fanout.ts [options]

Target (default: --target culex, started from dist/; run \`npm run build\` first):
  --target NAMES       culex, forwarder (bench/forwarder.ts, the generator's calibration),
                       mosquitto (/usr/sbin/mosquitto -p PORT) and/or mosquitto-nodelay (the same
                       with set_tcp_nodelay true), culex-persist (culex with --persistence-location
                       in a temporary directory: SQLite, acks after the commit); comma-separated
                       to run several in turn
  --host H --port N    an already running broker instead (no CPU/RSS unless --broker-pid is given)
  --broker-pid PID     the running broker's PID, for its CPU time and memory
Load:
  --subscribers N      subscribers on the topic (default 100)
  --qos 0|1            subscription and publish QoS (default 0)
  --payload BYTES      payload size, at least ${MIN_PAYLOAD} (default 16)
  --rate R             latency phase: messages/s offered, each delivered N times (default 1000)
  --seconds S          measured seconds of the throughput phase and of the latency phase (default 10)
  --window W           most messages the publisher runs ahead of the slowest subscriber (default 500)
  --workers T          subscriber threads (default: CPUs left to the generator, at most 4)
  --persistent-sessions  subscribers connect with clean session 0, so a broker with persistence
                       records every delivery to them (without it, nothing is persisted for
                       clean sessions and culex-persist costs next to nothing)
Measurement:
  --no-pin             do not pin the broker and the generator to separate CPUs with taskset
  --broker-prof DIR    culex only: write the broker's V8 CPU profile (node --cpu-prof) into DIR
`;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Args extends Mutable<RunOptions> {
  targets: TargetName[];
  host: string;
  port: number | undefined;
  brokerPid: number | undefined;
  pin: boolean;
  profileDir: string | undefined;
  persistentSessions: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const args: Args = {
    targets: ['culex'],
    host: '127.0.0.1',
    port: undefined,
    brokerPid: undefined,
    pin: true,
    profileDir: undefined,
    persistentSessions: false,
    subscribers: 100,
    qos: 0,
    payload: 16,
    rate: 1000,
    seconds: 10,
    window: 500,
    workers: 0,
    timeoutMs: 10_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const text = (): string => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
      return value;
    };
    const number = (min: number, max: number): number => {
      const value = Number(text());
      if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${flag} must be a number in ${min}..${max}`);
      return value;
    };
    try {
      switch (flag) {
        case '--target': {
          const names = text().split(',');
          const unknown = names.find((name) => !(TARGET_NAMES as readonly string[]).includes(name));
          if (unknown !== undefined) return `unknown target '${unknown}' (known: ${TARGET_NAMES.join(', ')})`;
          args.targets = names as TargetName[];
          break;
        }
        case '--host':
          args.host = text();
          break;
        case '--port':
          args.port = Math.floor(number(1, 65535));
          break;
        case '--broker-pid':
          args.brokerPid = Math.floor(number(1, 2 ** 32));
          break;
        case '--subscribers':
          args.subscribers = Math.floor(number(1, 100_000));
          break;
        case '--qos': {
          const qos = number(0, 1);
          args.qos = qos as QoS;
          break;
        }
        case '--payload':
          args.payload = Math.floor(number(MIN_PAYLOAD, 1_000_000));
          break;
        case '--rate':
          args.rate = number(1, 10_000_000);
          break;
        case '--seconds':
          args.seconds = number(0.1, 3600);
          break;
        case '--window':
          args.window = Math.floor(number(1, 60_000));
          break;
        case '--workers':
          args.workers = Math.floor(number(1, 64));
          break;
        case '--no-pin':
          args.pin = false;
          break;
        case '--persistent-sessions':
          args.persistentSessions = true;
          break;
        case '--broker-prof':
          args.profileDir = text();
          break;
        default:
          return `unknown option '${flag}'`;
      }
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
  return args;
}

interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly pinning: string;
  /** /proc/loadavg's 1-minute load when the run started: above the CPU count, other work shares the cores. */
  readonly loadAverage: number;
}

function describeMachine(pinning: Pinning): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    pinning: pinning.generatorCpus === undefined ? 'none' : `broker on CPU ${pinning.brokerCpus}, generator on CPU ${pinning.generatorCpus}`,
    loadAverage: loadavg()[0] ?? 0,
  };
}

const fixed = (value: number | undefined, digits: number): string => (value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
const count = (value: number): string => Math.round(value).toLocaleString('en-US');
const ms = (us: number): string => fixed(us / 1000, 3);

/**
 * One row: saturation figures, then the fixed-rate ones, then the CPU other processes used during each
 * (work competing for the cores, which latencies show). Publishes/s and p90/p99.9 are in the JSON line.
 */
function tableRow(name: string, r: FanoutResult): string {
  const t = r.throughput;
  const l = r.latency;
  const lost = (n: number, skipped = 0): string => (skipped > 0 ? `${count(n)} (+${count(skipped)} not sent)` : count(n));
  return `| ${[
    name,
    count(t.deliveriesPerSecond),
    lost(t.lost),
    fixed(t.brokerCpuUsPerDelivery, 2),
    fixed(t.brokerCpuPercent, 0),
    fixed(t.generatorCpuPercent, 0),
    ms(l.p50Us),
    ms(l.p99Us),
    ms(l.maxUs),
    lost(l.lost, l.skipped),
    fixed(l.brokerCpuUsPerDelivery, 2),
    fixed(l.generatorCpuPercent, 0),
    r.memory === undefined ? 'n/a' : `${fixed(r.memory.rssMiB, 0)} (${fixed(r.memory.peakRssMiB, 0)})`,
    `${fixed(t.othersCpuPercent, 0)} / ${fixed(l.othersCpuPercent, 0)}`,
  ].join(' | ')} |`;
}

const TABLE_HEADER = [
  '| | saturation: deliveries/s | lost | broker CPU µs/delivery | broker CPU % | generator CPU % | fixed rate: p50 ms | p99 ms | max ms | lost | broker CPU µs/delivery | generator CPU % | broker RSS MiB (peak) | other processes CPU % |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
].join('\n');

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`fanout: ${args}\n\n${usage}`);
    return 2;
  }
  const external = args.port !== undefined;
  const pinning = choosePinning(args.pin && !external);
  const machine = describeMachine(pinning); // before pinning, which narrows availableParallelism()
  if (pinning.generatorCpus !== undefined) pinSelf(pinning.generatorCpus);
  const generatorCpus = pinning.generatorCpus === undefined ? machine.cpus : machine.cpus - 1;
  const workers = args.workers > 0 ? args.workers : Math.max(1, Math.min(4, generatorCpus - 1));
  const options: RunOptions = { ...args, workers };

  process.stdout.write(
    `fan-out 1 → ${args.subscribers}, QoS ${args.qos}, ${args.payload} B payload; saturation window ${args.window} messages, ` +
      `latency at ${count(args.rate)} msg/s (${count(args.rate * args.subscribers)} deliveries/s), ${args.seconds} s each; ${workers} subscriber thread(s)\n` +
      `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, node ${machine.node}, ${machine.platform}; pinning: ${machine.pinning}; load average ${machine.loadAverage.toFixed(2)}\n`,
  );
  if (machine.loadAverage > machine.cpus / 2) {
    process.stderr.write(`warning: load average ${machine.loadAverage.toFixed(2)} on ${machine.cpus} CPUs: other processes share the cores, latencies will show it\n`);
  }
  const rows: string[] = [];
  const lines: string[] = [];
  let failed = false;
  const names: (TargetName | undefined)[] = external ? [undefined] : args.targets;
  for (const name of names) {
    let target: RunningTarget | undefined;
    try {
      target = name === undefined ? externalTarget(args.host, args.port!, args.brokerPid) : await startTarget(name, { pinning, profileDir: args.profileDir });
      process.stdout.write(`${target.name}: ${target.description}\n`);
      const result = await runFanout(target, options);
      rows.push(tableRow(target.name, result));
      lines.push(
        JSON.stringify({ bench: 'fanout', target: target.name, broker: target.description, machine, options: { ...options, timeoutMs: undefined }, ...result }),
      );
    } catch (error) {
      failed = true;
      process.stderr.write(`fanout: ${name ?? `${args.host}:${args.port}`}: ${error instanceof Error ? error.message : String(error)}\n`);
    } finally {
      await target?.stop();
    }
  }
  if (rows.length > 0) process.stdout.write(`\n${TABLE_HEADER}\n${rows.join('\n')}\n\n${lines.join('\n')}\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fanout: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
