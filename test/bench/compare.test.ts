// npm run bench:compare runs end to end against Culex, Debian's Mosquitto and Aedes in alternation,
// and writes its section into a copy of docs/BENCHMARKS.md. A tiny, bounded run: it checks that each
// broker was measured and that the document keeps its other sections, never the figures themselves.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunningProcess } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';

interface CompareJson {
  runs: { round: number; target: string; result: { kind: string; result: { fixed?: { deliveries: number; lost: number } } } }[];
}

test('bench/compare.ts measures culex, mosquitto and aedes in turn and writes its section of BENCHMARKS.md', { timeout: 240_000 }, async (t) => {
  if (!needTools(t, ['mosquitto'], 'mosquitto')) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-compare-'));
  try {
    const doc = join(dir, 'BENCHMARKS.md');
    writeFileSync(doc, '# Benchmarks\n\n## An earlier section\n\nkept as it is\n');
    const json = join(dir, 'compare.json');
    const args = ['--rounds', '1', '--cases', 'fan-out', '--qos', '1', '--payload', '16', '--size', '2', '--rate', '100'];
    args.push('--seconds', '0.5', '--saturation', '0', '--no-calibration', '--no-pin', '--json', json, '--write-docs', doc);
    const bench = new RunningProcess(process.execPath, ['--import', 'tsx', 'bench/compare.ts', ...args], { timeoutMs: 200_000 });
    const { code, stdout, stderr } = await bench.result();
    assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
    const { runs } = JSON.parse(readFileSync(json, 'utf8')) as CompareJson;
    assert.deepEqual(
      runs.map((r) => r.target),
      ['culex', 'mosquitto', 'aedes'],
    );
    for (const run of runs) {
      assert.ok(run.result.result.fixed!.deliveries > 0, run.target);
      assert.equal(run.result.result.fixed!.lost, 0, `${run.target}: QoS 1 loses nothing`);
    }
    const written = readFileSync(doc, 'utf8');
    assert.match(written, /## An earlier section\n\nkept as it is/);
    assert.match(written, /<!-- bench:compare:start/);
    assert.match(written, /<!-- bench:compare:end -->/);
    assert.match(written, /\| fan-out 1→2 QoS 1 16 B \| 200 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| ([\d.]+×|n\/a) \| ([\d.]+×|n\/a) \|/);
    assert.match(written, /npm run bench:compare -- --rounds 1/);
    assert.doesNotMatch(written, new RegExp(dir), 'no machine paths in the document');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
