#!/usr/bin/env node
// npm run cluster:demo — a three-node Culex cluster on one local redis-server, for trying things
// out: starts redis-server and three `culex broker --cluster` nodes on free loopback ports, prints
// them with commands to try, and stops everything (by PID) on Ctrl-C.
// Options: --redis redis://HOST:PORT uses a running Redis instead of starting one.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli/culex.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('dist/ is missing: run npm run build first');
  process.exit(1);
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

function start(command, args, ready, name) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${output}`)));
  });
}

const children = [];
let dir;
async function stopAll() {
  for (const child of children.reverse()) {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
  }
  if (dir) setTimeout(() => rmSync(dir, { recursive: true, force: true }), 500).unref();
}

try {
  const given = process.argv.indexOf('--redis');
  let redisUrl = given >= 0 ? process.argv[given + 1] : undefined;
  if (redisUrl === undefined) {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'culex-demo-redis-'));
    children.push(await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], /Ready to accept connections/, 'redis-server'));
    redisUrl = `redis://127.0.0.1:${port}`;
  }
  const ports = [];
  for (const id of ['node-1', 'node-2', 'node-3']) {
    const port = await freePort();
    const node = await start(process.execPath, [cli, 'broker', '-p', String(port), '--cluster', redisUrl, '--node-id', id], /culex version \S+ running/, id);
    node.stderr.on('data', (chunk) => process.stdout.write(`[${id}] ${chunk}`));
    children.push(node);
    ports.push(port);
  }
  console.log(`Redis:  ${redisUrl}`);
  ports.forEach((port, i) => console.log(`node-${i + 1}: mqtt://127.0.0.1:${port}`));
  console.log(`
Try:
  mosquitto_sub -p ${ports[1]} -t 'demo/#' -v
  mosquitto_pub -p ${ports[0]} -t demo/hello -m 'from node-1'
  npx culex cluster status --cluster ${redisUrl}
Ctrl-C stops the nodes${dir ? ' and Redis' : ''}.`);
  process.on('SIGINT', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  await stopAll();
  process.exitCode = 1;
}
