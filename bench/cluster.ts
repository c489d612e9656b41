// Cluster bench: same-node against cross-node delivery on two Culex nodes sharing one redis-server.
//   node --import tsx bench/cluster.ts [--messages 20000] [--rate 1000] [--seconds 5] [--payload 64] [--pairs 4]
// Starts redis-server and two `culex broker --cluster` nodes from dist/ (run `npm run build` first)
// on free loopback ports, and stops them by PID at the end. For each path (publisher and subscriber
// on node A; publisher on A, subscriber on B) it measures:
//   - the brokers' CPU time per message (both nodes, from /proc) and Redis's, over --messages QoS 0
//     messages sent with a bounded window, and the Redis commands per message (INFO stats);
//   - one-way latency (p50, p99) at a fixed --rate for --seconds;
// then the delivered messages/s of --pairs publisher→subscriber pairs all on one node against the
// same pairs split over two nodes. Prints a table and one JSON line.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { cpuSeconds } from './fanout/process-stats.js';

const cli = fileURLToPath(new URL('../dist/cli/culex.js', import.meta.url));

interface Args {
  messages: number;
  rate: number;
  seconds: number;
  payload: number;
  pairs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { messages: 20_000, rate: 1000, seconds: 5, payload: 64, pairs: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Args;
    const value = Number(argv[i + 1]);
    if (!(key in args) || !Number.isFinite(value) || value <= 0) throw new Error(`bad option ${argv[i]} ${argv[i + 1]}`);
    args[key] = value;
  }
  args.payload = Math.max(args.payload, 16);
  return args;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface Child {
  readonly child: ChildProcess;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startChild(command: string, args: readonly string[], ready: RegExp): Promise<Child> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${output}`)), 60_000);
    const check = (chunk: Buffer): void => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', () => reject(new Error(`${command} exited: ${output}`)));
  });
  return {
    child,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function redisCommands(port: number): Promise<number> {
  const info = await new Promise<string>((resolve, reject) => {
    const child = spawn('redis-cli', ['-p', String(port), 'info', 'stats'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', () => resolve(out));
    child.on('error', reject);
  });
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

function client(port: number, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = connect(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0, protocolVersion: 4 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** A payload stamped with the send time (ms, float) for one-way latency. */
function stamped(size: number): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeDoubleBE(performance.timeOrigin + performance.now(), 0);
  return buf;
}

interface PathResult {
  /** Saturated (messages sent in bursts of 500): both brokers' CPU per message, Redis's, Redis commands per message. */
  cpuUsPerMessage: number;
  redisCpuUsPerMessage: number;
  redisCommandsPerMessage: number;
  /** At the fixed rate: the same figures, with little to batch. */
  atRateCpuUsPerMessage: number;
  atRateRedisCommandsPerMessage: number;
  p50Ms: number;
  p99Ms: number;
}

async function measurePath(name: string, pub: MqttClient, sub: MqttClient, pids: number[], redisPid: number, redisPort: number, args: Args): Promise<PathResult> {
  const topic = `bench/${name}`;
  await sub.subscribeAsync(topic, { qos: 0 });
  let received = 0;
  const latencies: number[] = [];
  let recording = false;
  sub.on('message', (_topic, payload) => {
    received++;
    if (recording) latencies.push(performance.timeOrigin + performance.now() - payload.readDoubleBE(0));
  });
  // the route reaches the publisher's node
  for (let i = 0; i < 200 && received === 0; i++) {
    pub.publish(topic, stamped(args.payload));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  received = 0;
  const cpuBefore = pids.map((pid) => cpuSeconds(pid) ?? NaN);
  const redisBefore = cpuSeconds(redisPid) ?? NaN;
  const commandsBefore = await redisCommands(redisPort);
  const payload = Buffer.alloc(args.payload);
  const deadline = Date.now() + 120_000;
  for (let sent = 0; sent < args.messages; ) {
    const burst = Math.min(500, args.messages - sent);
    for (let i = 0; i < burst; i++) pub.publish(topic, payload);
    sent += burst;
    while (received < sent - 1000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  while (received < args.messages && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const commandsAfter = await redisCommands(redisPort);
  const cpu = pids.reduce((sum, pid, i) => sum + ((cpuSeconds(pid) ?? NaN) - cpuBefore[i]!), 0);
  const redisCpu = (cpuSeconds(redisPid) ?? NaN) - redisBefore;
  // fixed-rate latency
  recording = true;
  received = 0;
  const rateCpuBefore = pids.map((pid) => cpuSeconds(pid) ?? NaN);
  const rateCommandsBefore = await redisCommands(redisPort);
  const total = args.rate * args.seconds;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / args.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pub.publish(topic, stamped(args.payload));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  recording = false;
  const rateCommands = (await redisCommands(redisPort)) - rateCommandsBefore - 1;
  const rateCpu = pids.reduce((sum, pid, i) => sum + ((cpuSeconds(pid) ?? NaN) - rateCpuBefore[i]!), 0);
  const rateReceived = received;
  sub.removeAllListeners('message');
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    cpuUsPerMessage: (cpu / args.messages) * 1e6,
    redisCpuUsPerMessage: (redisCpu / args.messages) * 1e6,
    redisCommandsPerMessage: (commandsAfter - commandsBefore - 1) / args.messages,
    atRateCpuUsPerMessage: (rateCpu / rateReceived) * 1e6,
    atRateRedisCommandsPerMessage: rateCommands / rateReceived,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/** Delivered messages/s of publisher→subscriber pairs, each pair on the node `placement` gives it. */
async function pairsThroughput(ports: readonly number[], placement: (pair: number) => number, args: Args, label: string): Promise<number> {
  const clients: MqttClient[] = [];
  let delivered = 0;
  const pubs: { client: MqttClient; topic: string }[] = [];
  for (let p = 0; p < args.pairs; p++) {
    const port = ports[placement(p)]!;
    const topic = `bench/pairs/${label}/${p}`;
    const sub = await client(port, `${label}-s${p}`);
    await sub.subscribeAsync(topic, { qos: 0 });
    sub.on('message', () => delivered++);
    const pub = await client(port, `${label}-p${p}`);
    clients.push(sub, pub);
    pubs.push({ client: pub, topic });
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const payload = Buffer.alloc(args.payload);
  const startedAt = performance.now();
  const endAt = startedAt + args.seconds * 1000;
  let sent = 0;
  while (performance.now() < endAt) {
    for (const { client: c, topic } of pubs) for (let i = 0; i < 100; i++) c.publish(topic, payload);
    sent += pubs.length * 100;
    while (delivered < sent - 2000 * pubs.length && performance.now() < endAt) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const rate = delivered / ((performance.now() - startedAt) / 1000);
  await Promise.all(clients.map((c) => c.endAsync()));
  return rate;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'culex-bench-redis-'));
  const redisPort = await freePort();
  const redis = await startChild('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], /Ready to accept connections/);
  const url = `redis://127.0.0.1:${redisPort}`;
  const ports = [await freePort(), await freePort()];
  const nodes: Child[] = [];
  try {
    for (const [i, port] of ports.entries()) nodes.push(await startChild(process.execPath, [cli, 'broker', '-p', String(port), '--cluster', url, '--node-id', `bench-${i}`], /culex version \S+ running/));
    const pids = nodes.map((n) => n.pid);
    const pub = await client(ports[0]!, 'bench-pub');
    const sameSub = await client(ports[0]!, 'bench-same');
    const crossSub = await client(ports[1]!, 'bench-cross');
    const same = await measurePath('same', pub, sameSub, pids, redis.pid, redisPort, args);
    const cross = await measurePath('cross', pub, crossSub, pids, redis.pid, redisPort, args);
    await Promise.all([pub, sameSub, crossSub].map((c) => c.endAsync()));
    const oneNode = await pairsThroughput(ports, () => 0, args, 'one');
    const twoNodes = await pairsThroughput(ports, (p) => p % 2, args, 'two');
    const row = (name: string, r: PathResult): string =>
      [name.padEnd(12), r.cpuUsPerMessage.toFixed(1).padStart(10), r.redisCpuUsPerMessage.toFixed(1).padStart(9), r.redisCommandsPerMessage.toFixed(3).padStart(9), r.atRateCpuUsPerMessage.toFixed(1).padStart(10), r.atRateRedisCommandsPerMessage.toFixed(3).padStart(9), r.p50Ms.toFixed(2).padStart(7), r.p99Ms.toFixed(2).padStart(7)].join(' ');
    process.stdout.write(`${'path'.padEnd(12)} ${'broker µs'.padStart(10)} ${'redis µs'.padStart(9)} ${'cmd/msg'.padStart(9)} ${'@rate µs'.padStart(10)} ${'@rate cmd'.padStart(9)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}\n`);
    process.stdout.write(`${row('same-node', same)}\n${row('cross-node', cross)}\n`);
    process.stdout.write(`${args.pairs} pairs, QoS 0, ${args.payload} B: one node ${Math.round(oneNode)} msg/s, two nodes ${Math.round(twoNodes)} msg/s\n`);
    process.stdout.write(`${JSON.stringify({ args, same, cross, oneNode, twoNodes })}\n`);
  } finally {
    for (const node of nodes) await node.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
