// The recorder's port to its database: batched inserts that resolve once committed, duplicates of
// (sensor, seq) ignored by a unique key, and the queries the CLI and the console's history use.

import type { Reading } from './messages.js';

export interface StoredReading extends Reading {
  /** When the recorder stored it (ms since 1970). */
  readonly receivedAt: number;
}

export interface ReadingQuery {
  readonly sensor?: string | undefined;
  /** Inclusive lower bound on ts (ms since 1970). */
  readonly since?: number | undefined;
  /** Exclusive upper bound on ts. */
  readonly until?: number | undefined;
  /** At most this many rows, the most recent ones, returned oldest first. */
  readonly limit?: number | undefined;
}

export interface SensorSummary {
  readonly sensor: string;
  readonly readings: number;
  readonly firstTs: number;
  readonly lastTs: number;
  readonly unit: string;
}

export interface ReadingStore {
  /** "sqlite:<file>" or "postgres://host:port/db" (without the password), for logs. */
  readonly description: string;
  /** Inserts the batch in one transaction; resolves after the commit with how many rows were new. */
  insert(readings: readonly Reading[]): Promise<number>;
  query(query: ReadingQuery): Promise<StoredReading[]>;
  sensors(): Promise<SensorSummary[]>;
  close(): Promise<void>;
}

/** An ordered schema history; each database applies the versions it has not yet recorded. */
export interface Migration {
  readonly version: number;
  readonly sql: readonly string[];
}

export const DEFAULT_QUERY_LIMIT = 100_000;
