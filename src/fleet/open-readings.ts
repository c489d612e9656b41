// `--db`: a postgres:// or postgresql:// URL opens PostgreSQL; anything else is a SQLite file path.

import type { ReadingStore } from './reading-store.js';

export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:\/\//i.test(db);

export async function openReadings(db: string): Promise<ReadingStore> {
  if (isPostgresUrl(db)) {
    const { PostgresReadings } = await import('./postgres-readings.js');
    return PostgresReadings.open(db);
  }
  const { SqliteReadings } = await import('./sqlite-readings.js');
  return SqliteReadings.open(db);
}
