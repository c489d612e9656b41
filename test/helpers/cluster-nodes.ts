// Culex cluster nodes as users run them: `node dist/cli/culex.js broker -p PORT --cluster URL
// --node-id ID` child processes, plus the cluster status as `culex cluster status --json` prints it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Inbox } from './mqttjs.js';
import { startCulexProcess, type CulexProcess } from './culex-process.js';

const cli = fileURLToPath(new URL('../../dist/cli/culex.js', import.meta.url));

/**
 * Starts a node with fast heartbeats (0.5 s: dead after 1.5 s) so failure tests stay short;
 * resolves once it runs, or once it logs `ready` when given.
 */
export function startNode(url: string, nodeId: string, extra: readonly string[] = [], ready?: RegExp): Promise<CulexProcess> {
  return startCulexProcess(['--cluster', url, '--node-id', nodeId, '--cluster-heartbeat', '0.5', ...extra], 30_000, ready);
}

/** Nodes keeping sessions in Redis (persistence on a cluster node): three to start with, and more on demand. */
export class SessionNodes {
  readonly list: CulexProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'culex-sessions-'));
  constructor(readonly redisUrl: string) {}
  start(id: string): Promise<CulexProcess> {
    return startNode(this.redisUrl, id, ['--persistence-location', join(this.dir, id)]);
  }
  async startThree(prefix: string): Promise<void> {
    for (const id of [1, 2, 3]) this.list.push(await this.start(`${prefix}${id}`));
  }
  async stop(): Promise<void> {
    await Promise.all(this.list.map((node) => node.stop('SIGTERM')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface NodeStatus {
  readonly id: string;
  readonly alive: boolean;
  readonly clients: number;
  readonly receivedMessages: number;
  readonly forwardedMessages: number;
  readonly forwardedBatches: number;
  readonly droppedWhileDown: number;
  readonly outages: number;
  readonly willsSent: number;
  readonly takeovers: number;
  /** Expired retained messages the node swept out of Redis. */
  readonly retainedSwept?: number;
}

export interface Status {
  readonly nodes: readonly NodeStatus[];
  readonly clientIds: number;
  readonly retained: number;
}

/** Runs `culex cluster status --cluster URL [--json]` from dist/. */
export function clusterStatusCli(url: string, json: boolean): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'cluster', 'status', '--cluster', url, ...(json ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function clusterStatus(url: string): Promise<Status> {
  const result = await clusterStatusCli(url, true);
  if (result.code !== 0) throw new Error(`culex cluster status failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Status;
}

/** Polls the status until check passes (bounded: 40 tries). */
export async function waitForStatus(url: string, check: (status: Status) => boolean, what: string): Promise<Status> {
  let last: Status | undefined;
  for (let i = 0; i < 40; i++) {
    last = await clusterStatus(url);
    if (check(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`cluster status never showed ${what}: ${JSON.stringify(last)}`);
}

export const nodeOf = (status: Status, id: string): NodeStatus => {
  const node = status.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`node ${id} not in ${JSON.stringify(status)}`);
  return node;
};

/**
 * Publishes probes until one reaches the inbox: the subscription's route has reached the
 * publisher's node. Bounded at 100 probes, 100 ms apart. The probes are then drained.
 */
export async function untilRouted(publish: () => void | Promise<unknown>, inbox: Inbox): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await publish();
    if (!(await inbox.nothingWithin(100))) {
      await inbox.nothingWithin(200);
      inbox.drain();
      return;
    }
  }
  throw new Error('the route never reached the publishing node');
}
