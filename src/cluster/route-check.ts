// Route anti-entropy: each heartbeat compares the route sequence every node shows in the status
// hash with the one this node's table holds, and reads a node's routes again in full when an update
// or reset was missed (published while this node's subscriber connection was away, e.g. just after
// Redis came back). Without it such a node stayed unreachable until its next route change. A node
// missing from the status hash at two heartbeats in a row left, and leaves the table.

import { SEQ_FIELD, clusterKeys as keys } from './keys.js';
import type { RedisLink } from './redis-link.js';
import type { RouteTable } from './route-table.js';

export class RouteCheck {
  /** Per other node, the sequence its status showed at the previous heartbeat. */
  private readonly advertisedSeqs = new Map<string, number>();
  /** Known nodes missing from the status hash at the previous heartbeat. */
  private missingBefore = new Set<string>();

  constructor(
    private readonly table: RouteTable,
    private readonly link: RedisLink,
    private readonly self: string,
  ) {}

  /** The nodes in the status hash at this heartbeat; a known node missing twice in a row is forgotten (once may be Redis just back empty). */
  present(nodes: readonly string[]): void {
    const missing = new Set(this.table.knownNodes.filter((known) => known !== this.self && !nodes.includes(known)));
    for (const known of missing) {
      if (!this.missingBefore.has(known)) continue;
      this.advertisedSeqs.delete(known);
      this.table.removeNode(known);
    }
    this.missingBefore = missing;
  }

  /**
   * A node's status shows route sequence `advertised`: its routes are read again when this node has
   * not seen that change, or when the status shows an older sequence than this node's at two
   * heartbeats in a row (the node restarted and its reset was missed).
   */
  check(node: string, advertised: number): void {
    const seen = this.table.seqOf(node);
    const previous = this.advertisedSeqs.get(node);
    this.advertisedSeqs.set(node, advertised);
    if (advertised > seen || (advertised < seen && previous === advertised)) void this.read(node);
  }

  /** Reads one node's routes in full (after a missed update, and at a resync). */
  async read(node: string): Promise<void> {
    try {
      const entries = await this.link.commands.hgetall(keys.routes(node));
      // no sequence: the node has not written its routes back yet (Redis came back empty); its reset will
      if (entries[SEQ_FIELD] === undefined) return;
      const seq = Number(entries[SEQ_FIELD]);
      delete entries[SEQ_FIELD];
      this.table.replaceNode(node, Object.keys(entries), seq);
    } catch {
      // Redis is away: the resync when it returns reads everything
    }
  }
}
