// The recorder across broker restarts (the broker with persistence, restarted with SIGTERM and then
// SIGKILL) and its own crash, during traffic: every QoS 1 reading each sensor handed out ends up in
// the database exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { openReadings } from '../../src/fleet/open-readings.js';
import { SensorFleet } from '../../src/fleet/sensor-fleet.js';
import { publishedSeqs, startCulexCommand, storedSeqs, waitForEverything } from '../helpers/fleet.js';
import { findFreePort } from '../helpers/ports.js';
import { RunningProcess } from '../helpers/processes.js';

const cli = fileURLToPath(new URL('../../dist/cli/culex.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once something accepts TCP connections on the port (bounded). */
async function listening(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await sleep(100);
  }
}

test('broker restarted twice (SIGTERM, then SIGKILL) and the recorder killed, during traffic: every QoS 1 reading stored exactly once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-broker-restart-'));
  const port = await findFreePort();
  const conf = join(dir, 'broker.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 100000', 'max_inflight_messages 100', ''].join('\n'));
  const startBrokerProcess = async (): Promise<RunningProcess> => {
    const broker = new RunningProcess(process.execPath, [cli, 'broker', '-c', conf], { timeoutMs: 600_000 });
    await listening(port);
    return broker;
  };
  const db = join(dir, 'readings.db');
  const url = `mqtt://127.0.0.1:${port}`;
  let broker = await startBrokerProcess();
  const recorderArgs = ['--broker', url, '--db', db, '--client-id', 'rec-restart', '--flush-ms', '20'];
  let recorder = await startCulexCommand('recorder', recorderArgs, /recording/);
  const fleet = await SensorFleet.start({ count: 3, url, idPrefix: 'restart-', settings: { sampleRateHz: 25, sensitivity: 1, enabled: true } });
  const reader = await openReadings(db);
  try {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      await sleep(1500);
      broker.kill(signal);
      await broker.result();
      await sleep(500);
      broker = await startBrokerProcess();
    }
    await sleep(1500);
    recorder.kill('SIGKILL');
    await recorder.result();
    recorder = await startCulexCommand('recorder', recorderArgs, /recording/);
    await sleep(1500);
    await fleet.stop();
    await waitForEverything(reader, fleet, 90_000);
    for (const sensor of fleet.sensors) {
      assert.ok(sensor.published > 50, `${sensor.id} published ${sensor.published}`);
      assert.deepEqual(await storedSeqs(reader, sensor.id), publishedSeqs(sensor), `${sensor.id}: every reading exactly once`);
    }
  } finally {
    await fleet.stop();
    await reader.close();
    recorder.kill('SIGTERM');
    await recorder.result();
    broker.kill('SIGTERM');
    await broker.result();
    rmSync(dir, { recursive: true, force: true });
  }
});
