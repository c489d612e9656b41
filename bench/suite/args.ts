// Command-line options shared by the suite (bench/suite.ts) and the comparison (bench/compare.ts).

import type { QoS } from '../../src/protocol/packets.js';
import { MIN_PAYLOAD } from '../fanout/payload.js';
import { TARGET_NAMES, type TargetName } from '../fanout/targets.js';
import { CASE_KINDS, type CaseKind, type SuiteSettings } from './cases.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface CommonArgs extends Mutable<SuiteSettings> {
  targets: TargetName[];
  pin: boolean;
  profileDir: string | undefined;
  json: string | undefined;
}

export const COMMON_USAGE = `Cases:
  --cases LIST         comma-separated: fan-in (P publishers → one prefix/# subscriber), fan-out (1 → N),
                       pairs (K publisher/subscriber pairs on distinct topics), connections (open C idle
                       connections: time and broker RSS per connection), flood (QoS 0 from unthrottled
                       publishers: broker up, RSS, CONNACK time of new clients)
  --qos LIST           0,1 (default both)
  --payload LIST       payload bytes, at least ${MIN_PAYLOAD} (default 16,1024)
  --size N             publishers (fan-in), subscribers (fan-out) or pairs; default 10, 100, 100
  --rate R             fixed-rate phase, messages/s from all publishers; default per scenario:
                       QoS 0: fan-out 1,000 (×100 deliveries), fan-in 30,000, pairs 30,000;
                       QoS 1: fan-out 100, fan-in 10,000, pairs 10,000
  --seconds S          measured seconds of the fixed-rate phase (default 5)
  --saturation S       measured seconds of the saturation phase, 0 to skip (default 3)
  --window W           messages a subscriber may have outstanding at saturation (default 500)
  --workers T          subscriber threads (default: CPUs left to the generator, at most 4)
  --connections C      idle connections to open (default 10000); the open-file limits are raised
  --flood-seconds S    length of the flood (default 30); --flood-publishers P (default 10)
  --v5 [MAX]           subscribers speak MQTT 5 and announce Topic Alias Maximum MAX (default 0)
  --topic-padding N    N extra levels (~30 bytes each) before each topic: a long topic
Measurement:
  --no-pin             do not pin the broker (CPU 0) and the generator (the other CPUs) with taskset
  --json FILE          also write every result to FILE as JSON
`;

export function defaultArgs(): CommonArgs {
  return {
    targets: ['culex'],
    pin: true,
    profileDir: undefined,
    json: undefined,
    kinds: ['fan-in', 'fan-out', 'pairs'],
    qos: [0, 1],
    payloads: [16, 1024],
    size: undefined,
    rate: undefined,
    seconds: 5,
    saturationSeconds: 3,
    window: 500,
    workers: 0,
    timeoutMs: 10_000,
    subscriberVersion: 4,
    topicAliasMaximum: 0,
    topicPadding: 0,
    connections: 10_000,
    connectConcurrency: 100,
    floodSeconds: 30,
    floodPublishers: 10,
  };
}

/**
 * Parses argv into `args`; `extra` handles the flags of one entry command (returns false for unknown
 * ones). Returns an error message, or undefined when every flag was understood.
 */
export function parseCommon(argv: readonly string[], args: CommonArgs, extra: (flag: string, value: () => string) => boolean = () => false): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const text = (): string => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
      return value;
    };
    const number = (min: number, max: number, value = text()): number => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} must be a number in ${min}..${max}`);
      return n;
    };
    const list = <T extends string>(known: readonly T[]): T[] => {
      const names = text().split(',');
      const unknown = names.find((name) => !(known as readonly string[]).includes(name));
      if (unknown !== undefined) throw new Error(`unknown ${flag.slice(2)} '${unknown}' (known: ${known.join(', ')})`);
      return names as T[];
    };
    try {
      switch (flag) {
        case '--target':
        case '--targets':
          args.targets = list(TARGET_NAMES);
          break;
        case '--cases':
          args.kinds = list(CASE_KINDS) as CaseKind[];
          break;
        case '--qos':
          args.qos = text()
            .split(',')
            .map((q) => number(0, 1, q) as QoS);
          break;
        case '--payload':
          args.payloads = text()
            .split(',')
            .map((p) => Math.floor(number(MIN_PAYLOAD, 1_000_000, p)));
          break;
        case '--size':
          args.size = Math.floor(number(1, 60_000));
          break;
        case '--rate':
          args.rate = number(1, 10_000_000);
          break;
        case '--seconds':
          args.seconds = number(0.1, 3600);
          break;
        case '--saturation':
          args.saturationSeconds = number(0, 3600);
          break;
        case '--window':
          args.window = Math.floor(number(1, 60_000));
          break;
        case '--workers':
          args.workers = Math.floor(number(1, 64));
          break;
        case '--connections':
          args.connections = Math.floor(number(1, 1_000_000));
          break;
        case '--flood-seconds':
          args.floodSeconds = number(0.5, 3600);
          break;
        case '--flood-publishers':
          args.floodPublishers = Math.floor(number(1, 1000));
          break;
        case '--v5': {
          args.subscriberVersion = 5;
          const next = argv[i + 1];
          if (next !== undefined && /^\d+$/.test(next)) args.topicAliasMaximum = Math.floor(number(0, 65535));
          break;
        }
        case '--topic-padding':
          args.topicPadding = Math.floor(number(0, 100));
          break;
        case '--no-pin':
          args.pin = false;
          break;
        case '--json':
          args.json = text();
          break;
        default:
          if (!extra(flag, text)) return `unknown option '${flag}'`;
      }
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
  return undefined;
}
