#!/usr/bin/env node
// Runs the whole suite with node's built-in test runner. Node 20's `node --test` takes no globs,
// so the test files are listed here; TypeScript tests load through tsx.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const found = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) found.push(relative(root, path));
  }
})(join(root, 'test'));
const files = filters.length ? found.filter((f) => filters.some((s) => f.includes(s))) : found;
if (files.length === 0) {
  console.error('no test files match', filters.join(' '));
  process.exit(1);
}
const concurrency = process.env.CULEX_TEST_CONCURRENCY ?? '2';
// Test files run in parallel processes; each claims the ports it hands out here, so that a port a
// test frees while it restarts its broker is not handed to another file meanwhile (bench/fanout/free-port.ts).
const portClaims = mkdtempSync(join(tmpdir(), 'culex-test-ports-'));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, CULEX_PORT_CLAIMS: portClaims } },
);
rmSync(portClaims, { recursive: true, force: true });
process.exit(result.status ?? 1);
