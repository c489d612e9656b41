// Topic aliases toward clients (topicAliasOut) measured: fan-out on a long topic to MQTT 5
// subscribers that announce a Topic Alias Maximum, against the same Culex built with createBroker
// with topicAliasOut off and on, in alternation for several rounds. Reports the bytes each delivery
// takes on the wire and the broker's CPU per delivery at a fixed rate, with and without.
//   npm run bench:aliases -- [--rounds 3] [--size 100] [--topic-padding 4] [--v5 16] [suite options]

import { loadavg } from 'node:os';
import { choosePinning, pinSelf } from './fanout/process-stats.js';
import { startTarget, type RunningTarget, type TargetName } from './fanout/targets.js';
import { median } from './compare/summary.js';
import { COMMON_USAGE, defaultArgs, parseCommon } from './suite/args.js';
import { caseLabel, casesOf, runCase, type Case, type CaseResult } from './suite/cases.js';
import { count, describeMachine, fixed } from './suite/report.js';

const usage = `Usage: npm run bench:aliases -- [options]        (node --import tsx bench/aliases.ts)

fan-out to MQTT 5 subscribers (Topic Alias Maximum 16 unless --v5 N) on a long topic, against
culex-api (createBroker, topicAliasOut off) and culex-aliases (on), from dist/ (\`npm run build\` first).
  --rounds N           rounds, alternating the two brokers (default 3)
Defaults here: --cases fan-out --qos 0,1 --payload 16 --topic-padding 4 (a topic of about 150 bytes).
${COMMON_USAGE}`;

const TARGETS: readonly TargetName[] = ['culex-api', 'culex-aliases'];

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  const args = defaultArgs();
  args.kinds = ['fan-out'];
  args.payloads = [16];
  args.subscriberVersion = 5;
  args.topicAliasMaximum = 16;
  args.topicPadding = 4;
  let rounds = 3;
  const error = parseCommon(argv, args, (flag, value) => {
    if (flag !== '--rounds') return false;
    rounds = Math.max(1, Math.min(20, Math.floor(Number(value())) || 1));
    return true;
  });
  if (error !== undefined) {
    process.stderr.write(`bench:aliases: ${error}\n\n${usage}`);
    return 2;
  }
  if (args.subscriberVersion !== 5 || args.topicAliasMaximum === 0) {
    process.stderr.write('bench:aliases: subscribers must speak MQTT 5 with a Topic Alias Maximum above 0 (--v5 N)\n');
    return 2;
  }
  const pinning = choosePinning(args.pin);
  const machine = describeMachine(pinning);
  if (pinning.generatorCpus !== undefined) pinSelf(pinning.generatorCpus);
  const generatorCpus = pinning.generatorCpus === undefined ? machine.cpus : machine.cpus - 1;
  const settings = { ...args, workers: args.workers > 0 ? args.workers : Math.max(1, Math.min(4, generatorCpus - 1)) };
  const cases = casesOf(settings).filter((c): c is Extract<Case, { kind: 'traffic' }> => c.kind === 'traffic');
  process.stdout.write(
    `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, node ${machine.node}; pinning: ${machine.pinning}; load average ${machine.loadAverage.toFixed(2)}; ` +
      `subscribers: MQTT 5, Topic Alias Maximum ${settings.topicAliasMaximum}; topic padding ${settings.topicPadding} levels\n`,
  );

  const results = new Map<string, CaseResult[]>();
  let failed = false;
  const loads: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      for (const name of TARGETS) {
        let target: RunningTarget | undefined;
        loads.push(loadavg()[0] ?? 0);
        try {
          target = await startTarget(name, { pinning });
          process.stdout.write(`round ${round}: ${name}: ${caseLabel(c)} … `);
          const result = await runCase(target, c, settings);
          process.stdout.write('done\n');
          const key = `${caseLabel(c)}\u0000${name}`;
          results.set(key, [...(results.get(key) ?? []), result]);
        } catch (error) {
          failed = true;
          process.stdout.write('failed\n');
          process.stderr.write(`bench:aliases: ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
        } finally {
          await target?.stop();
        }
      }
    }
  }

  const rows: string[] = [];
  const lines: string[] = [];
  for (const c of cases) {
    const medians = TARGETS.map((name) => {
      const runs = (results.get(`${caseLabel(c)}\u0000${name}`) ?? []).flatMap((r) => (r.kind === 'traffic' ? [r.result] : []));
      return {
        name,
        runs: runs.length,
        bytes: median(runs.map((r) => r.fixed.bytesPerDelivery)),
        cpu: median(runs.map((r) => r.fixed.brokerCpuUsPerDelivery ?? Number.NaN)),
        p99: median(runs.map((r) => r.fixed.p99Us / 1000)),
        saturation: median(runs.map((r) => r.saturation?.deliveriesPerSecond ?? Number.NaN)),
        lost: runs.reduce((sum, r) => sum + r.fixed.lost + (r.saturation?.lost ?? 0), 0),
      };
    });
    for (const m of medians) {
      rows.push(
        `| ${caseLabel(c)} | ${m.name === 'culex-aliases' ? 'on' : 'off'} | ${m.runs} | ${fixed(m.bytes, 1)} | ${fixed(m.cpu, 2)} | ${fixed(m.p99, 2)} | ${count(m.saturation)} | ${count(m.lost)} |`,
      );
      lines.push(JSON.stringify({ bench: 'aliases', case: caseLabel(c), target: m.name, topicAliasMaximum: settings.topicAliasMaximum, ...m }));
    }
  }
  process.stdout.write(
    `\nload average (1 min) at the start of each run: min ${fixed(Math.min(...loads), 1)}, median ${fixed(median(loads), 1)}, max ${fixed(Math.max(...loads), 1)}\n\n` +
      '| scenario | topicAliasOut | rounds | bytes/delivery | broker µs CPU/delivery | p99 ms | saturation deliveries/s | lost |\n' +
      '|---|---|---:|---:|---:|---:|---:|---:|\n' +
      `${rows.join('\n')}\n\n${lines.join('\n')}\n`,
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:aliases: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
