// Readings in PostgreSQL (node-postgres). A batch is one INSERT … SELECT FROM unnest(arrays), so its
// size is not bounded by the parameter limit and it commits atomically; the migration runs under
// an advisory lock so that two recorders starting together apply it once.

import pg from 'pg';
import type { Reading } from './messages.js';
import { DEFAULT_QUERY_LIMIT, type Migration, type ReadingQuery, type ReadingStore, type SensorSummary, type StoredReading } from './reading-store.js';

export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    sql: [
      `CREATE TABLE readings (
         sensor TEXT NOT NULL,
         seq BIGINT NOT NULL,
         ts BIGINT NOT NULL,
         value DOUBLE PRECISION NOT NULL,
         unit TEXT NOT NULL,
         received_at BIGINT NOT NULL,
         PRIMARY KEY (sensor, seq)
       )`,
      'CREATE INDEX readings_sensor_ts ON readings (sensor, ts)',
      'CREATE INDEX readings_ts ON readings (ts)',
    ],
  },
];

/** Any constant works; it names "the readings schema" among the database's advisory locks. */
const MIGRATION_LOCK = 0x63756c78;

interface Row {
  sensor: string;
  seq: string;
  ts: string;
  value: number;
  unit: string;
  received_at: string;
}

// BIGINT arrives as a string (it may exceed 2^53); ours are ms timestamps and counters, well inside.
const toReading = (row: Row): StoredReading => ({ sensor: row.sensor, seq: Number(row.seq), ts: Number(row.ts), value: row.value, unit: row.unit, receivedAt: Number(row.received_at) });

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export class PostgresReadings implements ReadingStore {
  readonly description: string;

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
  ) {
    this.description = redactedUrl(url);
  }

  static async open(url: string): Promise<PostgresReadings> {
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    // An idle client losing its server is reported here; without a listener it would crash the process.
    pool.on('error', () => {});
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresReadings(pool, url);
  }

  async insert(readings: readonly Reading[]): Promise<number> {
    if (readings.length === 0) return 0;
    const result = await this.pool.query(
      `INSERT INTO readings (sensor, seq, ts, value, unit, received_at)
       SELECT sensor, seq, ts, value, unit, $6 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::text[]) AS batch (sensor, seq, ts, value, unit)
       ON CONFLICT (sensor, seq) DO NOTHING`,
      [readings.map((r) => r.sensor), readings.map((r) => r.seq), readings.map((r) => r.ts), readings.map((r) => r.value), readings.map((r) => r.unit), Date.now()],
    );
    return result.rowCount ?? 0;
  }

  async query(query: ReadingQuery): Promise<StoredReading[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (condition: string, value: string | number): void => {
      params.push(value);
      where.push(condition.replace('?', `$${params.length}`));
    };
    if (query.sensor !== undefined) add('sensor = ?', query.sensor);
    if (query.since !== undefined) add('ts >= ?', query.since);
    if (query.until !== undefined) add('ts < ?', query.until);
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    params.push(query.limit ?? DEFAULT_QUERY_LIMIT);
    const result = await this.pool.query<Row>(`SELECT * FROM (SELECT * FROM readings ${filter} ORDER BY ts DESC, seq DESC LIMIT $${params.length}) AS recent ORDER BY ts, seq`, params);
    return result.rows.map(toReading);
  }

  async sensors(): Promise<SensorSummary[]> {
    const result = await this.pool.query<{ sensor: string; readings: string; first_ts: string; last_ts: string; unit: string }>(
      'SELECT sensor, COUNT(*) AS readings, MIN(ts) AS first_ts, MAX(ts) AS last_ts, MAX(unit) AS unit FROM readings GROUP BY sensor ORDER BY sensor',
    );
    return result.rows.map((row) => ({ sensor: row.sensor, readings: Number(row.readings), firstTs: Number(row.first_ts), lastTs: Number(row.last_ts), unit: row.unit }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
    for (const migration of postgresMigrations) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.sql) await client.query(statement);
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [migration.version, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
