// The bench suite (npm run bench) runs end to end against Culex (from dist/, which `npm test` builds
// first): tiny, bounded runs of every case must deliver what was sent and report it. It checks what
// was counted, never how fast; the flood's figures are reported by the bench, not asserted here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunningProcess } from '../helpers/processes.js';

interface SuiteLine {
  target: string;
  case: string;
  kind: 'traffic' | 'connections' | 'flood';
  scenario?: { kind: string; size: number };
  result: {
    deliveriesPerMessage?: number;
    saturation?: { deliveriesPerSecond: number; lost: number };
    fixed?: { deliveries: number; lost: number; skipped: number; p50Us: number; bytesPerDelivery: number };
    outOfOrder?: number;
    unexpected?: number;
    opened?: number;
    asked?: number;
    probes?: number;
    publishedPerSecond?: number;
  };
}

async function runSuite(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; lines: SuiteLine[] }> {
  // The bench bounds its own phases; the kill timer only keeps a broken run from hanging the suite.
  const bench = new RunningProcess(process.execPath, ['--import', 'tsx', 'bench/suite.ts', ...args], { timeoutMs: 150_000 });
  const result = await bench.result();
  const lines = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"bench":"suite"'))
    .map((l) => JSON.parse(l) as SuiteLine);
  return { code: result.code, stdout: result.stdout, stderr: result.stderr, lines };
}

test('bench/suite.ts runs fan-in, fan-out and pairs at QoS 1 against Culex: every message reaches exactly its subscribers, in order', { timeout: 180_000 }, async () => {
  const { code, stdout, stderr, lines } = await runSuite([
    '--target', 'culex', '--cases', 'fan-in,fan-out,pairs', '--qos', '1', '--payload', '16', '--size', '3',
    '--rate', '100', '--seconds', '0.5', '--saturation', '0.3', '--workers', '1', '--no-pin',
  ]);
  assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
  assert.deepEqual(lines.map((l) => l.scenario?.kind), ['fan-in', 'fan-out', 'pairs']);
  for (const line of lines) {
    const r = line.result;
    assert.equal(r.deliveriesPerMessage, line.scenario?.kind === 'fan-out' ? 3 : 1, line.case);
    assert.ok(r.saturation!.deliveriesPerSecond > 0, line.case);
    assert.equal(r.saturation!.lost, 0, `${line.case}: QoS 1 loses nothing`);
    assert.ok(r.fixed!.deliveries > 0, line.case);
    assert.equal(r.fixed!.lost, 0, line.case);
    assert.ok(r.fixed!.p50Us > 0, line.case);
    // A 3.1.1 QoS 1 PUBLISH: fixed header 2 + topic length 2 + topic + packet id 2 + 16 B payload.
    assert.ok(r.fixed!.bytesPerDelivery > 22, `${line.case}: ${r.fixed!.bytesPerDelivery} bytes per delivery`);
    assert.equal(r.outOfOrder, 0, `${line.case}: order per publisher is kept [MQTT-4.6.0-6]`);
    assert.equal(r.unexpected, 0, `${line.case}: no subscriber gets a topic it did not subscribe to`);
  }
  assert.match(stdout, /\| culex \| pairs 3 pairs QoS 1 16 B \|/, 'the table has a row per case');
});

test('bench/suite.ts opens idle connections and runs a short QoS 0 flood against Culex, and reports both', { timeout: 180_000 }, async () => {
  const { code, stdout, stderr, lines } = await runSuite([
    '--target', 'culex', '--cases', 'connections,flood', '--connections', '50', '--flood-seconds', '1', '--flood-publishers', '2', '--no-pin',
  ]);
  assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
  const connections = lines.find((l) => l.kind === 'connections');
  assert.ok(connections, stdout);
  assert.equal(connections.result.asked, 50);
  assert.equal(connections.result.opened, 50);
  const flood = lines.find((l) => l.kind === 'flood');
  assert.ok(flood, stdout);
  assert.ok(flood.result.probes! >= 1, 'new clients were tried during the flood');
  assert.ok(flood.result.publishedPerSecond! > 0);
  assert.match(stdout, /\| culex \| 50 of 50 \|/);
});

test('bench/suite.ts refuses an unknown case with exit code 2 and its usage', async () => {
  const { code, stderr } = await runSuite(['--cases', 'fan-sideways']);
  assert.equal(code, 2);
  assert.match(stderr, /unknown cases 'fan-sideways'/);
  assert.match(stderr, /Usage: npm run bench/);
});
