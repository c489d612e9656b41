// The cluster as Redis sees it, for `culex cluster status`: every node's last heartbeat status,
// whether it is still alive, and the cluster-wide counts.

import { clusterKeys as keys } from './keys.js';
import type { ClusterUrl } from './cluster-url.js';
import { RedisLink } from './redis-link.js';

export interface NodeStatus {
  readonly id: string;
  readonly alive: boolean;
  /** The node's own status fields (clients, sessions, routes, counters, host, ports, …). */
  readonly [field: string]: unknown;
}

export interface ClusterStatus {
  readonly nodes: readonly NodeStatus[];
  readonly clientIds: number;
  readonly retained: number;
}

export async function readClusterStatus(url: ClusterUrl): Promise<ClusterStatus> {
  const link = new RedisLink(url, { message: () => {}, ready: () => {}, down: () => {} });
  await link.connect(5000);
  try {
    const commands = link.commands;
    const entries = await commands.hgetall(keys.nodes);
    const nodes: NodeStatus[] = [];
    for (const [id, text] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
      let fields: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed !== null && typeof parsed === 'object') fields = parsed as Record<string, unknown>;
      } catch {
        // a damaged entry still lists the node
      }
      nodes.push({ ...fields, id, alive: (await commands.exists(keys.alive(id))) === 1 });
    }
    return { nodes, clientIds: await commands.hlen(keys.clients), retained: await commands.hlen(keys.retained) };
  } finally {
    await link.close();
  }
}
