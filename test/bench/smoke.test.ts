// The fan-out bench runs end to end against Culex (from dist/, which `npm test` builds first): a short,
// small run must deliver every message and report it. It checks what was counted, never how fast.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunningProcess } from '../helpers/processes.js';

interface FanoutLine {
  target: string;
  throughput: { deliveriesPerSecond: number; lost: number };
  latency: { deliveries: number; lost: number; skipped: number; p50Us: number };
  outOfOrder: number;
}

async function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; line: FanoutLine | undefined }> {
  // The bench bounds its own phases; the kill timer only keeps a broken run from hanging the suite.
  const bench = new RunningProcess(process.execPath, ['--import', 'tsx', 'bench/fanout.ts', ...args], { timeoutMs: 60_000 });
  const result = await bench.result();
  const json = result.stdout.split('\n').find((l) => l.startsWith('{"bench":"fanout"'));
  return { code: result.code, stdout: result.stdout, stderr: result.stderr, line: json === undefined ? undefined : (JSON.parse(json) as FanoutLine) };
}

test('bench/fanout.ts against Culex delivers every message to every subscriber, reports it and exits 0', async () => {
  const { code, stdout, stderr, line } = await runBench([
    '--target', 'culex', '--subscribers', '5', '--seconds', '0.5', '--rate', '100', '--window', '50', '--workers', '1', '--no-pin',
  ]);
  assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
  assert.ok(line, `no JSON line in: ${stdout}`);
  assert.equal(line.target, 'culex');
  assert.ok(line.throughput.deliveriesPerSecond > 0);
  assert.equal(line.throughput.lost, 0);
  assert.ok(line.latency.deliveries > 0);
  assert.equal(line.latency.lost, 0);
  assert.equal(line.outOfOrder, 0, 'MQTT keeps the order of messages on one topic [MQTT-4.6.0-6]');
  assert.ok(line.latency.p50Us > 0);
  assert.match(stdout, /\| culex \| [\d,]+ \| 0 \|/, 'the table has a row for culex');
});

test('bench/fanout.ts refuses an unknown option with exit code 2 and its usage', async () => {
  const { code, stderr } = await runBench(['--no-such-option']);
  assert.equal(code, 2);
  assert.match(stderr, /unknown option '--no-such-option'/);
  assert.match(stderr, /Usage: node --import tsx bench\/fanout.ts/);
});
