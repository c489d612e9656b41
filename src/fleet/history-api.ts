// The console's history, read from the recorder's database: GET /api/history?sensor=ID&since=10m
// answers {readings: [[ts, value], …]} per sensor, oldest first; GET /api/sensors the per-sensor
// summary. Bad parameters get 400 with a reason; database trouble 503.

import type { ServerResponse } from 'node:http';
import type { ReadingStore } from './reading-store.js';
import { parseInstant } from './time-range.js';

/** The most points one answer carries per request: enough for an hour at 25 Hz. */
const MAX_POINTS = 100_000;

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export async function answerHistory(store: ReadingStore | undefined, params: URLSearchParams, response: ServerResponse): Promise<void> {
  if (store === undefined) return sendJson(response, 404, { error: 'no database: start the console with --db' });
  const sensor = params.get('sensor') ?? undefined;
  const since = parseInstant(params.get('since') ?? '10m');
  if (typeof since === 'string') return sendJson(response, 400, { error: `since: ${since}` });
  const limitText = params.get('limit');
  const limit = limitText === null ? MAX_POINTS : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_POINTS) return sendJson(response, 400, { error: `limit: 1 to ${MAX_POINTS}` });
  try {
    const rows = await store.query({ sensor, since, limit });
    const sensors: Record<string, { unit: string; readings: [number, number][] }> = {};
    for (const row of rows) (sensors[row.sensor] ??= { unit: row.unit, readings: [] }).readings.push([row.ts, row.value]);
    sendJson(response, 200, { since, sensors });
  } catch (error) {
    sendJson(response, 503, { error: `database: ${error instanceof Error ? error.message : String(error)}` });
  }
}

export async function answerSensors(store: ReadingStore | undefined, response: ServerResponse): Promise<void> {
  if (store === undefined) return sendJson(response, 404, { error: 'no database: start the console with --db' });
  try {
    sendJson(response, 200, { sensors: await store.sensors() });
  } catch (error) {
    sendJson(response, 503, { error: `database: ${error instanceof Error ? error.message : String(error)}` });
  }
}
