// `culex recorder`: records sensor_data/# into SQLite (default) or PostgreSQL until Ctrl-C.
// `culex recorder query --sensor ID --since 10m [--csv]`: prints what was recorded.

import { csvHeader, csvLine } from '../fleet/csv.js';
import { openReadings } from '../fleet/open-readings.js';
import { Recorder } from '../fleet/recorder.js';
import type { StoredReading } from '../fleet/reading-store.js';
import { parseInstant } from '../fleet/time-range.js';
import { fleetCommandArgs, topicFlags, topicUsage } from './fleet-topics.js';
import { parseFlags, untilSignal } from './long-flags.js';

export const defaultDatabase = './data/readings.db';

const usage = `Usage: culex recorder [--broker URL] [--db FILE|postgres://…] [options]
       culex recorder query [--db …] [--sensor ID] [--since 10m] [--until T] [--limit N] [--csv]

Subscribes to sensor_data/# at QoS 1 on a persistent session and writes readings in batches,
acknowledging each message only once its row is committed; (sensor, seq) is unique, so a
redelivered reading is stored once. The schema is created or migrated at start.

 --broker URL      broker to connect to (default mqtt://127.0.0.1:1883)
 --db D            a SQLite file (default ${defaultDatabase}) or a postgres:// URL
 --client-id ID    the persistent session's name (default culex-recorder)
 -u, --username U  broker login
 -P, --password P
 --batch N         rows per transaction at most (default 500)
 --flush-ms MS     how long a reading waits for its batch (default 100)
${topicUsage}

query:
 --sensor ID       one sensor (default: all)
 --since T         a duration back from now (30s, 10m, 2h, 7d) or a date (default 10m)
 --until T         the same, exclusive
 --limit N         the most recent N rows at most (default 100000)
 --csv             CSV with a header line instead of the table
`;

const recordFlags = {
  broker: { kind: 'string' },
  db: { kind: 'string' },
  'client-id': { kind: 'string' },
  username: { kind: 'string', short: '-u' },
  password: { kind: 'string', short: '-P' },
  batch: { kind: 'integer', min: 1, max: 100_000 },
  'flush-ms': { kind: 'integer', min: 0, max: 60_000 },
  help: { kind: 'boolean' },
  ...topicFlags,
} as const;

const queryFlags = {
  db: { kind: 'string' },
  sensor: { kind: 'string' },
  since: { kind: 'string' },
  until: { kind: 'string' },
  limit: { kind: 'integer', min: 1 },
  csv: { kind: 'boolean' },
  help: { kind: 'boolean' },
} as const;

function fail(message: string): number {
  process.stderr.write(`culex recorder: ${message}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'query') return query(argv.slice(1));
  const args = fleetCommandArgs('recorder', argv, recordFlags, usage);
  if (typeof args === 'number') return args;
  const { flags, topics } = args;
  const store = await openReadings(flags.db ?? defaultDatabase);
  const url = flags.broker ?? 'mqtt://127.0.0.1:1883';
  const recorder = new Recorder({
    url,
    store,
    topics,
    clientId: flags['client-id'],
    username: flags.username,
    password: flags.password,
    batchSize: flags.batch,
    flushMs: flags['flush-ms'],
    report: (message) => process.stderr.write(`recorder: ${message}\n`),
  });
  try {
    await recorder.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  process.stdout.write(`recording ${topics.data}/# from ${url} into ${store.description}\n`);
  await untilSignal(async () => {
    await recorder.stop();
    await store.close();
    const { stored, duplicates, refused } = recorder.stats;
    process.stdout.write(`stopped: ${stored} readings stored, ${duplicates} duplicates ignored, ${refused} refused\n`);
  });
  return 0;
}

async function query(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, queryFlags);
  if (typeof parsed === 'string') return fail(`${parsed}\n\n${usage}`);
  const { flags } = parsed;
  if (flags.help) {
    process.stdout.write(usage);
    return 0;
  }
  const since = parseInstant(flags.since ?? '10m');
  if (typeof since === 'string') return fail(`--since: ${since}`);
  const until = flags.until === undefined ? undefined : parseInstant(flags.until);
  if (typeof until === 'string') return fail(`--until: ${until}`);
  const store = await openReadings(flags.db ?? defaultDatabase);
  let rows: StoredReading[];
  try {
    rows = await store.query({ sensor: flags.sensor, since, until, limit: flags.limit });
  } finally {
    await store.close();
  }
  if (flags.csv) {
    process.stdout.write(`${csvHeader}\n${rows.map((row) => `${csvLine(row)}\n`).join('')}`);
    return 0;
  }
  for (const row of rows) process.stdout.write(`${new Date(row.ts).toISOString()}  ${row.sensor}  #${row.seq}  ${row.value} ${row.unit}\n`);
  process.stderr.write(`${rows.length} reading${rows.length === 1 ? '' : 's'}\n`);
  return 0;
}
