// Route anti-entropy: each heartbeat compares the route sequence every node shows in the status
// hash with the one this node's table holds, and reads a node's routes again in full when an update
// or reset was missed (published while this node's subscriber connection was away, e.g. just after
// Redis came back). Without it such a node stayed unreachable until its next route change. A node
// missing from the status hash at two heartbeats in a row left, and leaves the table. A dead node
// dropped from the table (`dropped`, `gone`) is never read back in: its routes leave Redis as it is
// dropped (node.ts, dropNode), and a read on its way then is discarded (drop()).

import { SEQ_FIELD, clusterKeys as keys } from './keys.js';
import type { RedisLink } from './redis-link.js';
import type { RouteTable } from './route-table.js';

export class RouteCheck {
  /** Per other node, the sequence its status showed at the previous heartbeat. */
  private readonly advertisedSeqs = new Map<string, number>();
  /** Known nodes missing from the status hash at the previous heartbeat. */
  private missingBefore = new Set<string>();
  /** Per dropped node, how many times it was dropped; forgotten once it is out of the status hash. */
  private readonly drops = new Map<string, number>();

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
    // out of the status hash, a node's routes are out of Redis too (deleted before it): nothing stale to read
    for (const node of this.drops.keys()) if (!nodes.includes(node)) this.drops.delete(node);
  }

  /**
   * A dead node leaves the table: its sessions were adopted (`dropped`) or its clean-up is over
   * (`gone`). Its status entry stays in Redis until that clean-up ends, and the heartbeat's check
   * would read its routes back in — and send QoS 1/2 messages to an inbox the adopting node has
   * already replayed and deleted: acknowledged, never delivered (a shared group's; a plain
   * subscription's reach the adopted sessions directly too). The adopting node deletes its routes
   * from Redis as it drops it, so later reads find none; a read sent before and answered after this
   * drop (its reply and the drop come over two Redis connections) is discarded here.
   */
  drop(node: string): void {
    this.drops.set(node, (this.drops.get(node) ?? 0) + 1);
    this.table.removeNode(node);
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
    const drops = this.drops.get(node);
    try {
      const entries = await this.link.commands.hgetall(keys.routes(node));
      if (this.drops.get(node) !== drops) return; // dropped while this read was on its way: what it read is stale
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
