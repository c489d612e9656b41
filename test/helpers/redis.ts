// Debian's redis-server for cluster tests: a single server or a three-primary Redis Cluster, each
// in its own temporary directory on free loopback ports, stopped by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './ports.js';
import { runTool } from './processes.js';
import { toolPath } from './tools.js';

/** One redis-cli command against the server on `port`; its raw answer, trimmed. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  return (await runTool('redis-cli', ['-p', String(port), '--raw', ...args])).stdout.trim();
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: () => number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory (its data survives only with appendonly). */
  start(): Promise<void>;
  /** Everything the server logged. */
  readonly log: () => string;
  /** Stops the server for good and removes its directory. */
  destroy(): Promise<void>;
}

export interface RedisOptions {
  readonly appendonly?: boolean;
  readonly cluster?: boolean;
  readonly port?: number;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const program = toolPath('redis-server');
  if (program === undefined) throw new Error('redis-server not installed: apt-get install redis-server');
  const port = options.port ?? (await findFreePort(options.cluster ? 22_767 : undefined)); // a cluster node's bus is port + 10,000
  const dir = mkdtempSync(join(tmpdir(), 'culex-redis-'));
  let child: ChildProcess | undefined;
  const chunks: Buffer[] = [];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no', '--daemonize', 'no'];
  if (options.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000');
  const log = (): string => Buffer.concat(chunks).toString('utf8');

  const start = async (): Promise<void> => {
    const started = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
    started.stderr!.on('data', (chunk: Buffer) => chunks.push(chunk));
    const deadline = Date.now() + 15_000;
    while (!/Ready to accept connections/.test(log().split('oO0OoO0OoO0Oo').pop() ?? '')) {
      if (started.exitCode !== null) throw new Error(`redis-server exited: ${log()}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    process.kill(running.pid!, signal);
    const timer = setTimeout(() => running.exitCode === null && running.signalCode === null && process.kill(running.pid!, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid ?? 0,
    start,
    log,
    async stop(signal) {
      await stop(signal);
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  readonly servers: readonly RedisServer[];
  /** redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  readonly url: string;
  stop(): Promise<void>;
}

/** Three primaries, no replicas, every slot assigned (redis-cli --cluster create). */
export async function startRedisCluster(): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < 3; i++) servers.push(await startRedis({ cluster: true }));
    const nodes = servers.map((server) => `127.0.0.1:${server.port}`);
    const created = await runTool('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeoutMs: 60_000 });
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    const deadline = Date.now() + 30_000;
    for (const server of servers) {
      for (;;) {
        const info = await runTool('redis-cli', ['-p', String(server.port), 'cluster', 'info'], { timeoutMs: 10_000 });
        if (/cluster_state:ok/.test(info.stdout)) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster not ok: ${info.stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return {
      servers,
      url: `redis-cluster://${nodes.join(',')}`,
      async stop() {
        await Promise.all(servers.map((server) => server.destroy()));
      },
    };
  } catch (error) {
    await Promise.all(servers.map((server) => server.destroy()));
    throw error;
  }
}
