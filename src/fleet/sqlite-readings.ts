// Readings in an embedded SQLite file (better-sqlite3, loaded only when used: it is a native module).
// WAL mode lets the console read while the recorder writes; synchronous=FULL makes a commit durable
// before the recorder acknowledges the messages in it.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Reading } from './messages.js';
import { DEFAULT_QUERY_LIMIT, type Migration, type ReadingQuery, type ReadingStore, type SensorSummary, type StoredReading } from './reading-store.js';

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    sql: [
      `CREATE TABLE readings (
         sensor TEXT NOT NULL,
         seq INTEGER NOT NULL,
         ts INTEGER NOT NULL,
         value REAL NOT NULL,
         unit TEXT NOT NULL,
         received_at INTEGER NOT NULL,
         PRIMARY KEY (sensor, seq)
       )`,
      'CREATE INDEX readings_sensor_ts ON readings (sensor, ts)',
      'CREATE INDEX readings_ts ON readings (ts)',
    ],
  },
];

interface Row {
  sensor: string;
  seq: number;
  ts: number;
  value: number;
  unit: string;
  received_at: number;
}

const toReading = (row: Row): StoredReading => ({ sensor: row.sensor, seq: row.seq, ts: row.ts, value: row.value, unit: row.unit, receivedAt: row.received_at });

export class SqliteReadings implements ReadingStore {
  readonly description: string;
  readonly #insert: BetterSqlite3.Statement;
  readonly #insertBatch: (readings: readonly Reading[], receivedAt: number) => number;

  private constructor(
    private readonly db: BetterSqlite3.Database,
    file: string,
  ) {
    this.description = `sqlite:${file}`;
    this.#insert = db.prepare('INSERT INTO readings (sensor, seq, ts, value, unit, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sensor, seq) DO NOTHING');
    this.#insertBatch = db.transaction((readings: readonly Reading[], receivedAt: number) => {
      let added = 0;
      for (const r of readings) added += this.#insert.run(r.sensor, r.seq, r.ts, r.value, r.unit, receivedAt).changes;
      return added;
    });
  }

  /** Opens (creating the file and its directory) and migrates the schema. */
  static async open(file: string): Promise<SqliteReadings> {
    const { default: Database } = await import('better-sqlite3');
    const path = resolve(file);
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteReadings(db, file);
  }

  async insert(readings: readonly Reading[]): Promise<number> {
    return readings.length === 0 ? 0 : this.#insertBatch(readings, Date.now());
  }

  async query(query: ReadingQuery): Promise<StoredReading[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.sensor !== undefined) where.push('sensor = ?'), params.push(query.sensor);
    if (query.since !== undefined) where.push('ts >= ?'), params.push(query.since);
    if (query.until !== undefined) where.push('ts < ?'), params.push(query.until);
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    params.push(query.limit ?? DEFAULT_QUERY_LIMIT);
    // The most recent `limit` rows, then put back in time order.
    const rows = this.db.prepare(`SELECT * FROM (SELECT * FROM readings ${filter} ORDER BY ts DESC, seq DESC LIMIT ?) ORDER BY ts, seq`).all(...params) as Row[];
    return rows.map(toReading);
  }

  async sensors(): Promise<SensorSummary[]> {
    const rows = this.db
      .prepare('SELECT sensor, COUNT(*) AS readings, MIN(ts) AS firstTs, MAX(ts) AS lastTs, MAX(unit) AS unit FROM readings GROUP BY sensor ORDER BY sensor')
      .all() as SensorSummary[];
    return rows;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function migrate(db: BetterSqlite3.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  // IMMEDIATE takes the write lock first, so two recorders starting together do not both migrate.
  db.transaction(() => {
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => row.version));
    for (const migration of sqliteMigrations) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.sql) db.exec(statement);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
    }
  }).immediate();
}
