// The recorder against real databases (SQLite, and a PostgreSQL server started here) and a real
// broker, with real MQTT.js sensors: killed during traffic, it loses nothing and stores nothing twice.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import { openReadings } from '../../src/fleet/open-readings.js';
import { Recorder } from '../../src/fleet/recorder.js';
import type { Reading } from '../../src/fleet/messages.js';
import type { ReadingStore } from '../../src/fleet/reading-store.js';
import { SensorFleet } from '../../src/fleet/sensor-fleet.js';
import { defaultTopics } from '../../src/fleet/topics.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { publishedSeqs, runCulexCommand, startCulexCommand, storedSeqs, waitForEverything } from '../helpers/fleet.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'culex-recorder-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Three sensors at 25 Hz (QoS 1) while the recorder process is SIGKILLed twice and restarted; then
 * every seq each sensor handed out must be in the database exactly once.
 */
async function recorderKilledDuringTraffic(db: string, clientId: string): Promise<void> {
  // The queue must hold what arrives while the recorder is down (restarting node can take seconds
  // on a loaded machine); past max_queued_messages a broker drops messages by design.
  const broker = await startBroker({ maxQueuedMessages: 100_000, maxInflightMessages: 100 });
  const reader = await openReadings(db);
  const args = ['--broker', broker.url, '--db', db, '--client-id', clientId, '--flush-ms', '20'];
  let fleet: SensorFleet | undefined;
  try {
    for (let run = 0; run < 3; run++) {
      const recorder = await startCulexCommand('recorder', args, /recording/);
      // The session exists from the first subscription on: the sensors start after it.
      fleet ??= await SensorFleet.start({ count: 3, url: broker.url, idPrefix: `${clientId}-`, settings: { sampleRateHz: 25, sensitivity: 1, enabled: true } });
      await sleep(1500);
      if (run < 2) {
        recorder.kill('SIGKILL');
        await recorder.result();
        await sleep(700); // the sensors go on; the broker queues for the recorder's session
      } else {
        await fleet.stop();
        await waitForEverything(reader, fleet);
        recorder.kill('SIGTERM');
        const result = await recorder.result();
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /stopped: \d+ readings stored/);
      }
    }
    for (const sensor of fleet!.sensors) {
      assert.ok(sensor.published > 50, `${sensor.id} published ${sensor.published}`);
      assert.deepEqual(await storedSeqs(reader, sensor.id), publishedSeqs(sensor), `${sensor.id}: every reading exactly once`);
    }
  } finally {
    await fleet?.stop();
    await reader.close();
    await broker.close();
  }
}

/** A store that never commits: nothing may be acknowledged while it hangs. */
function hangingStore(): ReadingStore & { calls: number } {
  return {
    description: 'hanging',
    calls: 0,
    insert() {
      this.calls++;
      return new Promise<number>(() => {});
    },
    query: async () => [],
    sensors: async () => [],
    close: async () => {},
  };
}

async function publishReadings(broker: TestBroker, sensor: string, seqs: readonly number[], extra: readonly { topic: string; payload: string }[] = []): Promise<void> {
  const client = await mqtt.connectAsync(broker.url, { clientId: sensor });
  for (const seq of seqs) {
    const reading: Reading = { sensor, ts: Date.now(), value: seq / 10, unit: '°C', seq };
    await client.publishAsync(`sensor_data/${sensor}`, JSON.stringify(reading), { qos: 1 });
  }
  for (const { topic, payload } of extra) await client.publishAsync(topic, payload, { qos: 1 });
  await client.endAsync();
}

describe('recorder', () => {
  test('killed twice during traffic, it stores every QoS 1 reading exactly once (SQLite)', async () => {
    await recorderKilledDuringTraffic(join(dir, 'killed.db'), 'rec-sqlite');
  });

  describe('against a PostgreSQL server', () => {
    let server: PostgresServer | undefined;
    after(async () => server?.stop());

    test('killed twice during traffic, it stores every QoS 1 reading exactly once (PostgreSQL)', async (t: TestContext) => {
      server = await startPostgres(t);
      if (server === undefined) return;
      await recorderKilledDuringTraffic(await server.createDatabase('killed'), 'rec-pg');
    });

    test('the schema is migrated once: a second open finds version 1 and keeps the rows (PostgreSQL)', async (t: TestContext) => {
      server ??= await startPostgres(t);
      if (server === undefined) return;
      const url = await server.createDatabase('migrated');
      const first = await openReadings(url);
      assert.equal(await first.insert([{ sensor: 's', ts: 1, value: 1.5, unit: 'u', seq: 7 }]), 1);
      await first.close();
      const second = await openReadings(url);
      assert.equal(await second.insert([{ sensor: 's', ts: 1, value: 1.5, unit: 'u', seq: 7 }]), 0, 'duplicate (sensor, seq) ignored');
      assert.deepEqual((await second.query({ sensor: 's' })).map((row) => [row.seq, row.ts, row.value]), [[7, 1, 1.5]]);
      await second.close();
    });
  });

  test('[MQTT-4.3.2-2] a message is acknowledged only after its commit: a recorder whose database hangs leaves it queued in the broker', async () => {
    const broker = await startBroker();
    const db = join(dir, 'hang.db');
    const store = hangingStore();
    const first = new Recorder({ url: broker.url, store, topics: defaultTopics, clientId: 'rec-hang', flushMs: 10 });
    const real = await openReadings(db);
    try {
      await first.start();
      await publishReadings(broker, 'hang-1', [1, 2, 3, 4, 5]);
      const deadline = Date.now() + 10_000;
      while (first.stats.received < 5 && Date.now() < deadline) await sleep(50);
      assert.equal(first.stats.received, 5);
      while (store.calls === 0 && Date.now() < deadline) await sleep(50);
      assert.ok(store.calls >= 1, 'a commit was attempted');
      // The recorder's connection drops without any PUBACK: the broker must still hold all five.
      await first.abandon();
      const second = new Recorder({ url: broker.url, store: real, topics: defaultTopics, clientId: 'rec-hang', flushMs: 10 });
      await second.start();
      const until = Date.now() + 20_000;
      while ((await real.query({ sensor: 'hang-1' })).length < 5 && Date.now() < until) await sleep(50);
      assert.deepEqual((await real.query({ sensor: 'hang-1' })).map((row) => row.seq), [1, 2, 3, 4, 5]);
      await second.stop();
    } finally {
      await first.abandon();
      await real.close();
      await broker.close();
    }
  });

  test('payloads that are not readings, or name another sensor than their topic, are acknowledged and not stored', async () => {
    const broker = await startBroker();
    const store = await openReadings(join(dir, 'refused.db'));
    const recorder = new Recorder({ url: broker.url, store, topics: defaultTopics, clientId: 'rec-refuse', flushMs: 10 });
    try {
      await recorder.start();
      const forged: Reading = { sensor: 'other', ts: 1, value: 1, unit: 'u', seq: 1 };
      await publishReadings(broker, 'good', [1], [
        { topic: 'sensor_data/good', payload: 'not json' },
        { topic: 'sensor_data/good', payload: JSON.stringify(forged) },
        { topic: 'sensor_data/good', payload: '{"sensor":"good","ts":1,"value":"x","unit":"u","seq":2}' },
        { topic: 'sensor_data/good/deeper', payload: JSON.stringify({ ...forged, sensor: 'good' }) },
      ]);
      await publishReadings(broker, 'good', [2]);
      const deadline = Date.now() + 10_000;
      while (recorder.stats.stored < 2 && Date.now() < deadline) await sleep(50);
      assert.equal(recorder.stats.refused, 4);
      assert.deepEqual((await store.query({})).map((row) => [row.sensor, row.seq]), [['good', 1], ['good', 2]]);
      await recorder.stop();
      // Nothing left unacknowledged: a new connection of the same session receives nothing.
      const again = await mqtt.connectAsync(broker.url, { clientId: 'rec-refuse', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 } });
      let redelivered = 0;
      again.on('message', () => redelivered++);
      await sleep(500);
      await again.endAsync();
      assert.equal(redelivered, 0);
    } finally {
      await recorder.abandon();
      await store.close();
      await broker.close();
    }
  });

  test('culex recorder query prints one sensor since a time, as a table or CSV', async () => {
    const db = join(dir, 'query.db');
    const store = await openReadings(db);
    const now = Date.now();
    await store.insert([
      { sensor: 'a', ts: now - 3_600_000, value: 1, unit: '°C', seq: 1 },
      { sensor: 'a', ts: now - 60_000, value: 2.5, unit: '°C', seq: 2 },
      { sensor: 'b', ts: now - 60_000, value: 3, unit: '%', seq: 1 },
    ]);
    await store.close();
    const result = await runCulexCommand('recorder', ['query', '--db', db, '--sensor', 'a', '--since', '10m', '--csv']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines[0], 'sensor,seq,ts,time,value,unit');
    assert.deepEqual(lines.slice(1), [`a,2,${now - 60_000},${new Date(now - 60_000).toISOString()},2.5,°C`]);
    const table = await runCulexCommand('recorder', ['query', '--db', db, '--since', '2h']);
    assert.equal(table.stdout.trim().split('\n').length, 3);
    assert.match(table.stderr, /3 readings/);
    const bad = await runCulexCommand('recorder', ['query', '--db', db, '--since', 'yesterday']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--since: 'yesterday' is neither a duration/);
  });
});
