// Culex beside Debian's Mosquitto and Aedes: the suite's cases against each broker in alternation
// (culex, mosquitto, aedes, culex, … for several rounds), each case on a fresh broker pinned to CPU 0
// with the generator on the other CPUs; medians and ratios printed, and with --write-docs written as
// a section of docs/BENCHMARKS.md. Bounded by --max-minutes as well as by every phase's own bound.
//   npm run bench:compare -- [--rounds 3] [--write-docs] [suite options]

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startTarget, type RunningTarget, type TargetName } from './fanout/targets.js';
import { markdownSection, replaceSection, type Run } from './compare/summary.js';
import { COMMON_USAGE, defaultArgs, parseCommon } from './suite/args.js';
import { caseLabel, casesOf, runCase, type Case } from './suite/cases.js';
import { prepareRun } from './suite/setup.js';
import { allTables } from './suite/report.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const DOC = 'docs/BENCHMARKS.md';
const START = '<!-- bench:compare:start (written by npm run bench:compare -- --write-docs) -->';
const END = '<!-- bench:compare:end -->';

const usage = `Usage: npm run bench:compare -- [options]        (node --import tsx bench/compare.ts)

Runs every case against culex (dist/: run \`npm run build\` first), mosquitto and aedes in alternation.
  --targets NAMES      default culex,mosquitto,aedes (see npm run bench -- --help for the others)
  --rounds N           rounds of the traffic cases (default 3); connections and flood run in round 1
  --no-calibration     skip the round-1 runs against bench/forwarder.ts (the generator's ceiling)
  --max-minutes M      start no case after M minutes (default 60); what was skipped is reported
  --write-docs [FILE]  replace the comparison section of ${DOC} (or FILE) with this run's figures
${COMMON_USAGE}`;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  const args = defaultArgs();
  args.targets = ['culex', 'mosquitto', 'aedes'];
  args.kinds = ['fan-in', 'fan-out', 'pairs', 'connections', 'flood'];
  let rounds = 3;
  let calibration = true;
  let maxMinutes = 60;
  let writeDocs: string | undefined;
  const error = parseCommon(argv, args, (flag, value) => {
    if (flag === '--rounds') rounds = Math.max(1, Math.min(20, Math.floor(Number(value())) || 1));
    else if (flag === '--no-calibration') calibration = false;
    else if (flag === '--max-minutes') maxMinutes = Math.max(0.1, Number(value()) || 60);
    else if (flag === '--write-docs') writeDocs = argv[argv.indexOf(flag) + 1]?.startsWith('--') === false ? value() : `${repoRoot}${DOC}`;
    else return false;
    return true;
  });
  if (error !== undefined) {
    process.stderr.write(`bench:compare: ${error}\n\n${usage}`);
    return 2;
  }
  const { pinning, machine, settings, brokerFileLimit } = prepareRun(args, args.pin);

  const cases = casesOf(settings);
  const deadline = Date.now() + maxMinutes * 60_000;
  const runs: Run[] = [];
  const failures: string[] = [];
  const versions: Record<string, string> = {};
  let skipped = 0;
  const runOne = async (round: number, name: TargetName, c: Case): Promise<void> => {
    if (Date.now() > deadline) {
      skipped++;
      return;
    }
    let target: RunningTarget | undefined;
    const load = loadavg()[0] ?? 0;
    try {
      target = await startTarget(name, { pinning, nofile: c.kind === 'connections' ? brokerFileLimit : undefined });
      versions[name] ??= target.description.split(': ')[0]!;
      process.stdout.write(`round ${round}: ${name}: ${caseLabel(c)} … `);
      const result = await runCase(target, c, settings);
      process.stdout.write('done\n');
      runs.push({ round, target: name, result, load });
    } catch (error) {
      process.stdout.write('failed\n');
      failures.push(`round ${round}, ${name}, ${caseLabel(c)}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await target?.stop();
    }
  };
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      if (round > 1 && c.kind !== 'traffic') continue;
      for (const name of args.targets) await runOne(round, name, c);
      // The forwarder forwards every PUBLISH to every subscriber: pairs would not be the same load.
      if (round === 1 && calibration && c.kind === 'traffic' && c.scenario.kind !== 'pairs') await runOne(round, 'forwarder', c);
    }
  }
  if (skipped > 0) failures.push(`${skipped} case run(s) not started: the ${maxMinutes}-minute bound was reached`);

  // The command as documented: without where this run wrote its files.
  const shown = argv.filter(
    (a, i) => a !== '--write-docs' && a !== '--json' && argv[i - 1] !== '--json' && !(argv[i - 1] === '--write-docs' && !a.startsWith('--')),
  );
  const command = `npm run bench:compare -- ${shown.join(' ')}`.trim();
  const context = {
    machine,
    versions,
    command,
    commit: gitCommit(),
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    rounds,
    seconds: settings.seconds,
    saturationSeconds: settings.saturationSeconds,
    failures,
  };
  const section = markdownSection(runs, context);
  process.stdout.write(`\n${section}\n\nAll runs:\n\n${allTables(runs.map((r) => ({ target: `${r.target} (round ${r.round})`, result: r.result })))}\n`);
  for (const failure of failures) process.stderr.write(`bench:compare: ${failure}\n`);
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify({ context, runs }, null, 1)}\n`);
  if (writeDocs !== undefined) {
    writeFileSync(writeDocs, replaceSection(readFileSync(writeDocs, 'utf8'), section, START, END));
    process.stdout.write(`\nwrote the comparison section of ${writeDocs.replace(repoRoot, '')}\n`);
  }
  return runs.length === 0 ? 1 : 0;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:compare: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
