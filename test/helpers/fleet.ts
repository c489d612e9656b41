// Fleet fixtures: `culex recorder` as a child process (so it can be SIGKILLed like a crash), and
// waiting, bounded, until a database holds what the sensors published.
import { fileURLToPath } from 'node:url';
import type { ReadingStore } from '../../src/fleet/reading-store.js';
import type { SensorFleet } from '../../src/fleet/sensor-fleet.js';
import { RunningProcess, type ProcessResult } from './processes.js';

const cli = fileURLToPath(new URL('../../dist/cli/culex.js', import.meta.url));

/** `node dist/cli/culex.js <command> …`, resolved once it prints `ready` on stdout. */
export async function startCulexCommand(command: string, args: readonly string[], ready: RegExp, timeoutMs = 300_000): Promise<RunningProcess> {
  const process = new RunningProcess(globalThis.process.execPath, [cli, command, ...args], { timeoutMs });
  await process.waitForStdout(ready, 30_000);
  return process;
}

export function runCulexCommand(command: string, args: readonly string[], timeoutMs = 60_000): Promise<ProcessResult> {
  return new RunningProcess(globalThis.process.execPath, [cli, command, ...args], { timeoutMs }).result();
}

/** Per sensor: the seq numbers stored, from the database, for what the fleet published. */
export async function storedSeqs(store: ReadingStore, sensor: string): Promise<number[]> {
  const rows = await store.query({ sensor, since: 0 });
  return rows.map((row) => row.seq);
}

/** Waits until every reading each sensor published is in the store; returns the per-sensor counts. */
export async function waitForEverything(store: ReadingStore, fleet: SensorFleet, timeoutMs = 60_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summaries = await store.sensors();
    const counts = new Map(summaries.map((summary) => [summary.sensor, summary.readings]));
    if (fleet.sensors.every((sensor) => (counts.get(sensor.id) ?? 0) >= sensor.published)) return counts;
    if (Date.now() > deadline) {
      const missing = fleet.sensors.map((sensor) => `${sensor.id}: ${counts.get(sensor.id) ?? 0}/${sensor.published}`).join(', ');
      throw new Error(`the database did not catch up within ${timeoutMs} ms (${missing})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The seq numbers a sensor handed out: from nextSeq - published to nextSeq - 1. */
export function publishedSeqs(sensor: { readonly published: number; readonly nextSeq: number }): number[] {
  return Array.from({ length: sensor.published }, (_, i) => sensor.nextSeq - sensor.published + i);
}
