// Puts back into Redis the persistent sessions this node holds, from its memory, where Redis no longer
// has them as they are: Redis restarted empty or was flushed (their header is gone: checked after
// every outage), or commits failed while Redis was away (the store names those sessions). The node's
// memory holds each of its sessions whole (subscriptions, queued and in-flight messages with their
// bytes, QoS 2 packet ids), so a later hand-over or adoption finds them intact. What lived in Redis
// only cannot come back: see docs/CLUSTER.md, "Redis restarted empty".

import { RedisStore } from '../store/redis.js';
import { clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

export class SessionRepair {
  /** After an outage: look for held sessions whose keys Redis lost. */
  private checkLost = false;
  /** Sessions a run could not finish with, for the next. */
  private leftover = new Set<string>();
  private running = false;

  constructor(private readonly node: ClusterNode) {}

  /** Redis was away (or lost this node's keys): checks every held session on the next run. */
  afterOutage(): void {
    this.checkLost = true;
    void this.run();
  }

  /**
   * Rewrites the sessions Redis lost or missed changes of (run after an outage and on every
   * heartbeat; nothing to do costs nothing). A run that fails is retried on the next heartbeat:
   * the store's own connection may come back after the node's.
   */
  async run(): Promise<void> {
    const { broker, link, id } = this.node;
    const store = broker.options.store;
    const persistence = broker.persistence;
    if (this.running || !link.isUp || !(store instanceof RedisStore) || persistence === undefined) return;
    this.running = true;
    const redo = this.leftover;
    this.leftover = new Set();
    try {
      if (this.checkLost) {
        const held = [...broker.sessions.values()].filter((session) => session.journal !== undefined).map((session) => session.clientId);
        for (const clientId of await store.missing(held)) redo.add(clientId);
        this.checkLost = false;
      }
      for (const clientId of store.takeUnsynced()) redo.add(clientId);
      if (redo.size === 0) return;
      let rewritten = 0;
      for (const clientId of [...redo]) {
        redo.delete(clientId);
        const session = broker.sessions.get(clientId);
        if (session?.journal !== undefined) {
          persistence.rewrite(session);
          rewritten++;
          continue;
        }
        // no longer recorded here (ended, or clean now): what Redis kept of it is stale, unless another node holds it
        const holder = await link.commands.hget(keys.clients, clientId);
        if (holder === null || holder === id) persistence.deleteStored(clientId);
      }
      // a failed commit names its sessions again (takeUnsynced), for the next heartbeat
      await persistence.sync();
      if (rewritten > 0) this.node.logger.log('notice', `Cluster: wrote ${rewritten} persistent sessions back to Redis from node ${id}'s memory.`);
    } catch {
      // Redis went away again, or the store's own connection is not back yet: the next heartbeat retries
      // (a failed check of the lost sessions stays due: checkLost is cleared only once it answered)
      for (const clientId of redo) this.leftover.add(clientId);
    } finally {
      this.running = false;
    }
  }
}
