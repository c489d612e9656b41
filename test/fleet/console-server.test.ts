// The console's HTTP side with a real SQLite database: the page and MQTT.js's bundle, /api/config,
// /api/history and /api/sensors, and clear answers to bad requests.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startConsole, type ConsoleServer } from '../../src/fleet/console-server.js';
import { SqliteReadings } from '../../src/fleet/sqlite-readings.js';
import { defaultTopics } from '../../src/fleet/topics.js';

let dir: string;
let store: SqliteReadings;
let server: ConsoleServer;
const now = Date.now();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'culex-console-http-'));
  store = await SqliteReadings.open(join(dir, 'readings.db'));
  await store.insert([
    { sensor: 'a', ts: now - 7_200_000, value: 1, unit: '°C', seq: 1 },
    { sensor: 'a', ts: now - 30_000, value: 2, unit: '°C', seq: 2 },
    { sensor: 'a', ts: now - 20_000, value: 3, unit: '°C', seq: 3 },
    { sensor: 'b', ts: now - 10_000, value: 40, unit: '%', seq: 1 },
  ]);
  server = await startConsole({ port: 0, webSocketPort: 8083, topics: defaultTopics, loginRequired: true, readings: store });
});

after(async () => {
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), { method }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console HTTP server', () => {
  test('the page, its script and MQTT.js come from the console itself, with a strict content security policy', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<script src="\/mqtt.min.js"><\/script>/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    const mqttjs = await get('/mqtt.min.js');
    assert.equal(mqttjs.status, 200);
    assert.match(String(mqttjs.headers['content-type']), /javascript/);
    assert.ok(mqttjs.body.length > 100_000, 'the browser bundle');
    for (const path of ['/console.js', '/plot.js', '/sensor-admin.js', '/sensor-list.js', '/dynsec-link.js', '/sensor-role.js', '/console.css', '/favicon.svg']) assert.equal((await get(path)).status, 200, path);
  });

  test('/api/config tells the page where the broker is and that it must log in', async () => {
    assert.deepEqual(JSON.parse((await get('/api/config')).body), { webSocketPort: 8083, topics: defaultTopics, loginRequired: true, history: true });
  });

  test('/api/history returns [ts, value] pairs per sensor since a time, oldest first', async () => {
    const one = JSON.parse((await get('/api/history?sensor=a&since=10m')).body);
    assert.deepEqual(one.sensors, { a: { unit: '°C', readings: [[now - 30_000, 2], [now - 20_000, 3]] } });
    const all = JSON.parse((await get('/api/history?since=3h')).body);
    assert.deepEqual(Object.keys(all.sensors).sort(), ['a', 'b']);
    assert.equal(all.sensors.a.readings.length, 3);
    const limited = JSON.parse((await get('/api/history?sensor=a&since=3h&limit=1')).body);
    assert.deepEqual(limited.sensors.a.readings, [[now - 20_000, 3]], 'the most recent one');
    const summary = JSON.parse((await get('/api/sensors')).body);
    assert.deepEqual(summary.sensors.map((s: { sensor: string; readings: number }) => [s.sensor, s.readings]), [['a', 3], ['b', 1]]);
  });

  test('bad requests get a reason, not a crash', async () => {
    const since = await get('/api/history?since=yesterday');
    assert.equal(since.status, 400);
    assert.match(JSON.parse(since.body).error, /since: 'yesterday' is neither a duration/);
    assert.equal((await get('/api/history?limit=0')).status, 400);
    assert.equal((await get('/api/history?limit=abc')).status, 400);
    assert.equal((await get('/../package.json')).status, 404);
    assert.equal((await get('/%2e%2e/package.json')).status, 404);
    assert.equal((await get('/api/history', 'POST')).status, 405);
    assert.equal((await get('/')).status, 200, 'still serving');
  });
});
