// Tables (Markdown) for suite results, and the machine a run happened on.

import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { Pinning } from '../fanout/process-stats.js';
import { caseLabel, type CaseResult } from './cases.js';

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly pinning: string;
  /** 1-minute load average when the run started: above the CPU count, other work shares the cores. */
  readonly loadAverage: number;
}

/** Call before pinning this process, which narrows availableParallelism(). */
export function describeMachine(pinning: Pinning): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    pinning: pinning.generatorCpus === undefined ? 'none' : `broker on CPU ${pinning.brokerCpus}, generator on CPU ${pinning.generatorCpus}`,
    loadAverage: loadavg()[0] ?? 0,
  };
}

export const fixed = (value: number | undefined, digits: number): string =>
  value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
export const count = (value: number | undefined): string => (value === undefined || Number.isNaN(value) ? 'n/a' : Math.round(value).toLocaleString('en-US'));
const ms = (us: number): string => fixed(us / 1000, 3);

export interface Row {
  readonly target: string;
  readonly result: CaseResult;
}

const table = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
  [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export function trafficTable(rows: readonly Row[]): string {
  const body = rows.flatMap(({ target, result: c }) => {
    if (c.kind !== 'traffic') return [];
    const s = c.result.saturation;
    const f = c.result.fixed;
    const lost = f.lost + (s?.lost ?? 0);
    return [
      [
        target,
        caseLabel(c),
        count(s?.deliveriesPerSecond),
        fixed(s?.brokerCpuUsPerDelivery, 2),
        fixed(s?.generatorCpuPercent, 0),
        count(f.offeredDeliveriesPerSecond),
        ms(f.p50Us),
        ms(f.p99Us),
        ms(f.maxUs),
        fixed(f.brokerCpuUsPerDelivery, 2),
        fixed(f.brokerCpuPercent, 0),
        fixed(f.generatorCpuPercent, 0),
        fixed(f.bytesPerDelivery, 1),
        f.skipped > 0 ? `${count(lost)} (+${count(f.skipped)} not sent)` : count(lost),
        c.result.memory === undefined ? 'n/a' : fixed(c.result.memory.peakRssMiB, 0),
        fixed(f.othersCpuPercent, 0),
      ],
    ];
  });
  if (body.length === 0) return '';
  return table(
    [
      'target',
      'scenario',
      'saturation deliveries/s',
      'µs CPU/delivery',
      'generator CPU %',
      'fixed rate: deliveries/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'broker µs CPU/delivery',
      'broker CPU %',
      'generator CPU %',
      'bytes/delivery',
      'lost',
      'peak RSS MiB',
      'others CPU %',
    ],
    body,
  );
}

export function connectionsTable(rows: readonly Row[]): string {
  const body = rows.flatMap(({ target, result: c }) =>
    c.kind !== 'connections'
      ? []
      : [
          [
            target,
            `${count(c.result.opened)} of ${count(c.result.asked)}`,
            fixed(c.result.seconds, 2),
            count(c.result.connectionsPerSecond),
            fixed(c.result.rssBeforeMiB, 1),
            fixed(c.result.rssAfterMiB, 1),
            fixed(c.result.rssPerConnectionKiB, 2),
            c.result.failure ?? '',
          ],
        ],
  );
  if (body.length === 0) return '';
  return table(['target', 'idle connections opened', 'seconds', 'connections/s', 'RSS before MiB', 'RSS with them MiB', 'KiB per connection', 'first failure'], body);
}

export function floodTable(rows: readonly Row[]): string {
  const body = rows.flatMap(({ target, result: c }) =>
    c.kind !== 'flood'
      ? []
      : [
          [
            target,
            `${c.publishers} × QoS 0 ${c.payload} B, ${fixed(c.result.seconds, 1)} s`,
            count(c.result.publishedPerSecond),
            count(c.result.deliveredPerSecond),
            `${c.result.probes} / ${c.result.probesOver100ms} / ${c.result.probesFailed}`,
            fixed(c.result.probeP50Ms, 1),
            fixed(c.result.probeP99Ms, 1),
            fixed(c.result.probeMaxMs, 1),
            `${fixed(c.result.rssStartMiB, 0)} / ${fixed(c.result.rssMaxMiB, 0)} / ${fixed(c.result.rssEndMiB, 0)}`,
            c.result.brokerSurvived ? 'yes' : 'NO',
          ],
        ],
  );
  if (body.length === 0) return '';
  return table(
    [
      'target',
      'flood',
      'written msg/s',
      'delivered msg/s (reader)',
      'new clients: probes / over 100 ms / failed',
      'CONNACK p50 ms',
      'p99 ms',
      'max ms',
      'RSS MiB start / max / end',
      'up and serving after',
    ],
    body,
  );
}

export function allTables(rows: readonly Row[]): string {
  return [trafficTable(rows), connectionsTable(rows), floodTable(rows)].filter((t) => t !== '').join('\n\n');
}
