// The benchmark suite: fan-in, fan-out and pairs at QoS 0 and 1 with 16 B and 1 KiB payloads
// (saturation, then latency percentiles and broker CPU per delivery at a fixed offered rate),
// connection capacity and the QoS 0 flood, against any MQTT broker.
//   npm run bench -- [--target culex,mosquitto,aedes,…] [--cases fan-in,fan-out,pairs,connections,flood] …
//   npm run bench -- --host H --port N [--broker-pid PID]      (a broker already running)
// Each case gets a fresh broker, started on a free loopback port pinned to CPU 0 while this generator
// takes the other CPUs, and stopped by PID. Prints tables, then one JSON line per result.

import { writeFileSync } from 'node:fs';
import { externalTarget, startTarget, type RunningTarget, type TargetName } from './fanout/targets.js';
import { COMMON_USAGE, defaultArgs, parseCommon } from './suite/args.js';
import { caseLabel, casesOf, runCase } from './suite/cases.js';
import { prepareRun } from './suite/setup.js';
import { allTables, type Row } from './suite/report.js';

const usage = `Usage: npm run bench -- [options]        (node --import tsx bench/suite.ts)

Targets (started from dist/ for Culex: run \`npm run build\` first):
  --target NAMES       comma-separated, run in turn: culex (default), mosquitto (/usr/sbin/mosquitto -p PORT),
                       mosquitto-nodelay (with set_tcp_nodelay true), aedes (bench/aedes-server.ts),
                       forwarder (bench/forwarder.ts: the generator's ceiling, no topic matching),
                       culex-api / culex-aliases (createBroker with topicAliasOut off / on)
  --host H --port N    an already running broker instead (no CPU/RSS unless --broker-pid is given)
  --broker-pid PID     the running broker's PID, for its CPU time and memory
${COMMON_USAGE}`;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  const args = defaultArgs();
  let host = '127.0.0.1';
  let port: number | undefined;
  let brokerPid: number | undefined;
  const error = parseCommon(argv, args, (flag, value) => {
    if (flag === '--host') host = value();
    else if (flag === '--port') port = Number(value());
    else if (flag === '--broker-pid') brokerPid = Number(value());
    else return false;
    return true;
  });
  if (error !== undefined) {
    process.stderr.write(`bench: ${error}\n\n${usage}`);
    return 2;
  }
  const external = port !== undefined;
  const { pinning, machine, settings, brokerFileLimit } = prepareRun(args, args.pin && !external);

  const rows: Row[] = [];
  const lines: string[] = [];
  let failed = false;
  const names: (TargetName | undefined)[] = external ? [undefined] : args.targets;
  for (const name of names) {
    for (const c of casesOf(settings)) {
      let target: RunningTarget | undefined;
      try {
        target =
          name === undefined
            ? externalTarget(host, port!, brokerPid)
            : await startTarget(name, { pinning, profileDir: args.profileDir, nofile: c.kind === 'connections' ? brokerFileLimit : undefined });
        process.stdout.write(`${target.name}: ${caseLabel(c)} … `);
        const result = await runCase(target, c, settings);
        process.stdout.write('done\n');
        rows.push({ target: target.name, result });
        lines.push(JSON.stringify({ bench: 'suite', target: target.name, broker: target.description, case: caseLabel(c), machine, ...result }));
      } catch (error) {
        failed = true;
        process.stdout.write('failed\n');
        process.stderr.write(`bench: ${name ?? `${host}:${port}`}: ${caseLabel(c)}: ${error instanceof Error ? error.message : String(error)}\n`);
      } finally {
        await target?.stop();
      }
    }
  }
  if (rows.length > 0) process.stdout.write(`\n${allTables(rows)}\n\n${lines.join('\n')}\n`);
  if (args.json !== undefined) writeFileSync(args.json, `[${lines.join(',\n')}]\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
