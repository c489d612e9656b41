// The comparison's summary: medians over the rounds of each case and target, the ratios of Culex to
// Mosquitto and to Aedes, and the Markdown section written into docs/BENCHMARKS.md.

import { caseLabel, type CaseResult } from '../suite/cases.js';
import { connectionsTable, count, fixed, floodTable, type Machine, type Row } from '../suite/report.js';

export interface Run {
  readonly round: number;
  readonly target: string;
  readonly result: CaseResult;
  /** 1-minute load average when the case started. */
  readonly load: number;
}

export interface Context {
  readonly machine: Machine;
  /** What each target ran, without ports or paths: program and version. */
  readonly versions: Readonly<Record<string, string>>;
  readonly command: string;
  readonly commit: string;
  readonly date: string;
  readonly rounds: number;
  readonly seconds: number;
  readonly saturationSeconds: number;
  readonly failures: readonly string[];
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface TrafficMedians {
  readonly runs: number;
  readonly saturation: number;
  readonly cpu: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly rss: number;
  readonly lost: number;
  readonly skipped: number;
  readonly generatorPercent: number;
  readonly offered: number;
}

function trafficMedians(runs: readonly Run[]): TrafficMedians | undefined {
  const results = runs.flatMap((r) => (r.result.kind === 'traffic' ? [r.result.result] : []));
  if (results.length === 0) return undefined;
  return {
    runs: results.length,
    saturation: median(results.map((r) => r.saturation?.deliveriesPerSecond ?? Number.NaN)),
    cpu: median(results.map((r) => r.fixed.brokerCpuUsPerDelivery ?? Number.NaN)),
    p50Us: median(results.map((r) => r.fixed.p50Us)),
    p99Us: median(results.map((r) => r.fixed.p99Us)),
    rss: median(results.map((r) => r.memory?.peakRssMiB ?? Number.NaN)),
    lost: results.reduce((sum, r) => sum + r.fixed.lost + (r.saturation?.lost ?? 0), 0),
    skipped: results.reduce((sum, r) => sum + r.fixed.skipped, 0),
    generatorPercent: Math.max(...results.map((r) => Math.max(r.fixed.generatorCpuPercent, r.saturation?.generatorCpuPercent ?? 0))),
    offered: results[0]!.fixed.offeredDeliveriesPerSecond,
  };
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}×`;

/** Rows of one metric: per case, the three targets' medians and Culex's ratios to the other two. */
export function comparisonTables(runs: readonly Run[]): string {
  const labels = [...new Set(runs.filter((r) => r.result.kind === 'traffic').map((r) => caseLabel(r.result)))];
  const cell = (label: string, target: string): TrafficMedians | undefined =>
    trafficMedians(runs.filter((r) => r.target === target && caseLabel(r.result) === label));
  const header = (metric: string): string[] => [
    `| scenario | offered deliveries/s | ${metric}: culex | mosquitto | aedes | culex / mosquitto | culex / aedes |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const section = (metric: string, pick: (m: TrafficMedians) => number, format: (v: number) => string): string =>
    [
      ...header(metric),
      ...labels.map((label) => {
        const [c, m, a] = ['culex', 'mosquitto', 'aedes'].map((t) => cell(label, t));
        const v = (x: TrafficMedians | undefined): number | undefined => (x === undefined ? undefined : pick(x));
        const shown = (x: TrafficMedians | undefined): string => (x === undefined ? 'n/a' : format(pick(x)));
        return `| ${label} | ${count((c ?? m ?? a)?.offered)} | ${shown(c)} | ${shown(m)} | ${shown(a)} | ${ratio(v(c), v(m))} | ${ratio(v(c), v(a))} |`;
      }),
    ].join('\n');
  return [
    '**Broker CPU µs per delivered message at the fixed offered load** (lower is better):',
    '',
    section('µs/delivery', (m) => m.cpu, (v) => fixed(v, 2)),
    '',
    '**p99 one-way latency at the fixed offered load, ms** (lower is better):',
    '',
    section('p99 ms', (m) => m.p99Us / 1000, (v) => fixed(v, 2)),
    '',
    '**p50 one-way latency at the fixed offered load, ms**:',
    '',
    section('p50 ms', (m) => m.p50Us / 1000, (v) => fixed(v, 3)),
    '',
    '**Saturation: deliveries/s with a bounded window** (higher is better; the generator shares one core, see the calibration):',
    '',
    section('deliveries/s', (m) => m.saturation, (v) => count(v)),
    '',
    '**Peak broker RSS during the case, MiB**:',
    '',
    section('MiB', (m) => m.rss, (v) => fixed(v, 0)),
  ].join('\n');
}

/** Losses, skipped sends and the generator's busiest phase, per case and target: what qualifies the figures. */
export function qualityTable(runs: readonly Run[]): string {
  const keys = [...new Set(runs.filter((r) => r.result.kind === 'traffic').map((r) => `${caseLabel(r.result)}\u0000${r.target}`))];
  const rows = keys.map((key) => {
    const [label, target] = key.split('\u0000') as [string, string];
    const m = trafficMedians(runs.filter((r) => r.target === target && caseLabel(r.result) === label))!;
    return `| ${label} | ${target} | ${m.runs} | ${count(m.lost)} | ${count(m.skipped)} | ${fixed(m.generatorPercent, 0)} |`;
  });
  return ['| scenario | target | rounds | lost (all rounds) | not sent: rate not sustained | generator CPU % (max) |', '|---|---|---:|---:|---:|---:|', ...rows].join('\n');
}

export function markdownSection(runs: readonly Run[], context: Context): string {
  const loads = runs.map((r) => r.load);
  const m = context.machine;
  const rows: Row[] = runs.map((r) => ({ target: r.target, result: r.result }));
  const calibration = rows.filter((r) => r.target === 'forwarder');
  const connections = connectionsTable(rows);
  const flood = floodTable(rows);
  const crashes = runs.flatMap((r) =>
    r.result.kind === 'flood' && !r.result.result.brokerSurvived
      ? [`- ${r.target} did not survive the flood; its last stderr line: \`${(r.result.result.brokerStderr ?? '').split('\n').find((l) => /Error/.test(l)) ?? 'none'}\``]
      : [],
  );
  return [
    '## Culex beside Mosquitto and Aedes (`npm run bench:compare`)',
    '',
    '```',
    context.command,
    '```',
    '',
    `${context.date}, commit ${context.commit}. Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.platform}, node ${m.node}; pinning: ${m.pinning}. ` +
      `Versions: ${Object.entries(context.versions)
        .map(([t, v]) => `${t}: ${v}`)
        .join('; ')}.`,
    '',
    `**Load average (1 min) at the start of each case: min ${fixed(Math.min(...loads), 1)}, median ${fixed(median(loads), 1)}, max ${fixed(Math.max(...loads), 1)}** ` +
      `on ${m.cpus} CPUs. ${median(loads) > m.cpus ? 'Other work shared the cores during the run: the figures are indicative only, and a run on a quiet machine is needed before drawing conclusions.' : ''}`,
    '',
    `Each traffic case ran ${context.rounds} time(s) per broker, in alternation (culex, mosquitto, aedes, culex, …), each time on a fresh broker; ` +
      `${context.saturationSeconds} s of saturation, then ${context.seconds} s at the fixed offered load. The figures are medians over the rounds. ` +
      'Connection capacity and the flood ran once per broker, in the first round.',
    '',
    comparisonTables(runs),
    '',
    'What qualifies the figures (any loss or unsustained rate makes a row suspect):',
    '',
    qualityTable(runs),
    ...(calibration.length > 0
      ? [
          '',
          '**Generator calibration**: the same cases against bench/forwarder.ts (no matching, no sessions; it forwards every PUBLISH to every subscriber, so pairs is not comparable and is left out). ' +
            'What the generator reaches against it is its own ceiling: a broker figure near it is limited by the generator.',
          '',
          qualityOrCalibration(calibration),
        ]
      : []),
    ...(connections === '' ? [] : ['', '**Connection capacity** (idle connections, CONNECT/CONNACK, 100 handshakes in flight):', '', connections]),
    ...(flood === ''
      ? []
      : [
          '',
          '**QoS 0 flood** (unthrottled publishers, one subscriber reading, one never reading; a new client every 200 ms, CONNECT → CONNACK timed):',
          '',
          flood,
          ...(crashes.length > 0 ? ['', ...crashes] : []),
        ]),
    ...(context.failures.length > 0 ? ['', 'Cases that failed:', '', ...context.failures.map((f) => `- ${f}`)] : []),
  ].join('\n');
}

function qualityOrCalibration(rows: readonly Row[]): string {
  const lines = rows.flatMap(({ result: c }) =>
    c.kind !== 'traffic'
      ? []
      : [
          `| ${caseLabel(c)} | ${count(c.result.saturation?.deliveriesPerSecond)} | ${fixed(c.result.saturation?.generatorCpuPercent, 0)} | ${fixed(c.result.fixed.p99Us / 1000, 2)} | ${fixed(c.result.fixed.generatorCpuPercent, 0)} |`,
        ],
  );
  return ['| scenario | forwarder saturation deliveries/s | generator CPU % | fixed load p99 ms | generator CPU % |', '|---|---:|---:|---:|---:|', ...lines].join('\n');
}

/** Replaces the text between the markers in `document` (or appends the marked section). */
export function replaceSection(document: string, section: string, start: string, end: string): string {
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  const marked = `${start}\n${section}\n${end}`;
  if (from >= 0 && to > from) return `${document.slice(0, from)}${marked}${document.slice(to + end.length)}`;
  return `${document.trimEnd()}\n\n${marked}\n`;
}
