// npm run bench:aliases runs end to end: MQTT 5 subscribers with a Topic Alias Maximum get a long
// topic from Culex with topicAliasOut off and on. It checks what was counted (every message
// delivered, and fewer bytes per delivery with aliases, as MQTT 5 §3.3.2.3.4 makes them), never speed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunningProcess } from '../helpers/processes.js';

interface AliasLine {
  target: string;
  runs: number;
  bytes: number;
  lost: number;
}

test('bench/aliases.ts delivers every message with topicAliasOut off and on, and aliased deliveries take fewer bytes', { timeout: 180_000 }, async () => {
  const bench = new RunningProcess(
    process.execPath,
    ['--import', 'tsx', 'bench/aliases.ts', '--rounds', '1', '--qos', '0', '--size', '2', '--rate', '100', '--seconds', '0.5', '--saturation', '0', '--no-pin'],
    { timeoutMs: 150_000 },
  );
  const { code, stdout, stderr } = await bench.result();
  assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{"bench":"aliases"'))
    .map((l) => JSON.parse(l) as AliasLine);
  const off = lines.find((l) => l.target === 'culex-api');
  const on = lines.find((l) => l.target === 'culex-aliases');
  assert.ok(off && on, stdout);
  assert.equal(off.runs, 1);
  assert.equal(on.runs, 1);
  assert.equal(off.lost, 0);
  assert.equal(on.lost, 0);
  // The topic is ~150 bytes: sent once per subscriber with its alias, then the alias alone (3 bytes of property).
  assert.ok(on.bytes < off.bytes / 2, `bytes per delivery: ${on.bytes} with aliases, ${off.bytes} without`);
});
