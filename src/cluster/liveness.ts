// Heartbeats and dead nodes. Each node refreshes a key with a TTL of three heartbeats and its status
// entry; each heartbeat it also looks for nodes whose key expired. The first node to take that
// node's reaper lock (SET NX with a TTL) cleans up after it: it sends the wills of the dead node's
// clients (after their will delay, unless the client reconnected meanwhile through any node
// [MQTT-3.1.3-9]), frees their client ids, and takes the node's routes out of the table. A node
// that stops with persistent sessions to hand over says so (leave.ts): that clean-up runs at once.
// Clean-ups run one at a time, off the heartbeat, which goes on meanwhile; each renews its lock while
// it works (reaper-lock.ts) and ends by releasing it. A node joining takes its own id's lock until it
// is alive again, waiting while another node holds it (cleaning up after its previous run: that
// clean-up would delete the routes and status the join writes); with sessions in Redis, one that
// joins with the id of a node nobody cleaned up after yet (restarted before the timeout, or the
// cluster's last node) cleans up after its own previous life under that lock.

import { Timers } from '../broker/timers.js';
import { decodeWill } from './frame.js';
import { RELEASE_CLIENT, clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';
import { ReaperLock } from './reaper-lock.js';

export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private readonly pendingWills = new Timers();
  /** Wills scheduled by pendingWills, by field, as written to this node's heldWills hash. */
  private readonly held = new Map<string, Buffer>();
  private ticking = false;
  private stopped = false;
  /**
   * Nodes whose clean-up is queued or running here, and the queue's tail. One at a time: an adoption
   * installs one set of sessions at once (session-moves.ts). Off the heartbeat: a clean-up may take
   * longer than three heartbeats (very many sessions), and this node must not look dead meanwhile.
   */
  private readonly reaping = new Set<string>();
  private reaps: Promise<void> = Promise.resolve();
  /** Nodes in the status hash at the last heartbeat, this one included. */
  nodeCount = 1;

  constructor(
    private readonly node: ClusterNode,
    private readonly heartbeatMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.pendingWills.clear(); // `held` stays: a graceful stop hands those wills over (leave.ts)
  }

  /** Refreshes this node's alive key and status entry; false when the key was gone (Redis lost it). */
  async beat(): Promise<boolean> {
    const commands = this.node.link.commands;
    const [previous] = await Promise.all([
      commands.set(keys.alive(this.node.id), String(process.pid), 'PX', this.heartbeatMs * 3, 'GET'),
      commands.hset(keys.nodes, this.node.id, JSON.stringify(this.node.status())),
    ]);
    return previous !== null;
  }

  private async tick(): Promise<void> {
    if (this.ticking || !this.node.link.isUp) return;
    this.ticking = true;
    try {
      // set at the last heartbeat with a TTL of three: gone means Redis was flushed or restarted empty
      // without this node seeing the connection drop, or this node stalled; either way it writes all again
      if (!(await this.beat())) this.node.keysLost();
      else this.node.retryResync();
      this.node.repairSessions();
      const commands = this.node.link.commands;
      const statuses = await commands.hgetall(keys.nodes);
      const nodes = Object.keys(statuses);
      this.nodeCount = nodes.length;
      this.node.routeCheck.present(nodes);
      for (const other of nodes) {
        // a node being cleaned up after here has left this node's table: its routes are not read back
        if (other === this.node.id || this.reaping.has(other)) continue;
        const seq = advertisedRouteSeq(statuses[other]!);
        if (seq !== undefined) this.node.routeCheck.check(other, seq);
        if ((await commands.exists(keys.alive(other))) === 0) this.queueReap(other);
      }
    } catch {
      // Redis went away mid-tick: the next tick after the resync tries again
    } finally {
      this.ticking = false;
    }
  }

  /** A node announced that it left with persistent sessions (leave.ts): cleaned up after now, not after the timeout. */
  collect(other: string): void {
    if (!this.node.link.isUp) return; // the heartbeat after the outage finds it
    this.queueReap(other);
  }

  /** Cleans up after other if it is dead, once the clean-ups queued before are over. */
  private queueReap(other: string): void {
    if (this.reaping.has(other)) return;
    this.reaping.add(other);
    this.reaps = this.reaps
      .then(() => this.reapIfDead(other))
      .catch(() => undefined) // Redis went away: a later heartbeat finds the node again
      .finally(() => this.reaping.delete(other));
  }

  /** The first node to take a dead node's reaper lock cleans up after it, and releases the lock when done. */
  private async reapIfDead(other: string): Promise<void> {
    const { id, link, logger } = this.node;
    const commands = link.commands;
    if (this.stopped || (await commands.exists(keys.alive(other))) === 1) return;
    const lost = (): void => logger.log('warning', `Cluster: node ${id} lost the clean-up lock of node ${other} while cleaning up after it (stalled or cut off from Redis for three heartbeats); a node restarting with that id may join before the clean-up ends.`);
    const lock = await ReaperLock.take(commands, other, id, this.heartbeatMs, lost);
    if (lock === undefined) return;
    try {
      // another node cleaned up after it and released the lock since this node read the status hash
      if ((await commands.hexists(keys.nodes, other)) === 0) return;
      await this.reap(other);
    } finally {
      // a node restarting with that id waits for this (joinLock)
      await lock.release();
    }
  }

  /** Wills of dead nodes' clients scheduled here and not sent yet, as held in Redis (heldWills). */
  get heldWillCount(): number {
    return this.held.size;
  }

  /**
   * Schedules a dead node's client's will (field "dead-node NUL client id NUL run", value due time +
   * will) for its due time; false when the field or value is damaged. Once sent or found unneeded it
   * leaves Redis.
   */
  private holdWill(field: string, held: Buffer): boolean {
    const node = this.node;
    const commands = node.link.commands;
    // a field of an earlier version has no run: only the holder tells whether the client came back
    const [dead, clientId, run, ...rest] = field.split('\u0000');
    const will = held.length > 8 ? decodeWill(held.subarray(8)) : undefined;
    if (dead === undefined || clientId === undefined || rest.length > 0 || will === undefined) return false;
    const own = dead === node.id;
    this.held.set(field, held);
    this.pendingWills.schedule(field, Math.max(0, held.readDoubleBE(0) - Date.now()), () => {
      void (async () => {
        // the client came back in time: no will [MQTT-3.1.3-9]. On another node, or here (connected
        // now); or through any node since the clean-up, the dead node's id restarted included, whose
        // claim left another run beside the id (the registry records node ids, the same across runs).
        // The holder is read first: a claim in between shows in the run read after it.
        const holder = await commands.hget(keys.clients, clientId);
        if ((holder !== dead && holder !== node.id) || node.broker.channels.has(clientId)) return;
        if (run !== undefined && ((await commands.hget(keys.clientRuns, clientId)) ?? '') !== run) return;
        if (!own || !node.broker.sessions.has(clientId)) await commands.eval(RELEASE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, dead);
        node.publishOrphanWill(will.message, will.owner);
      })()
        .catch(() => undefined)
        .finally(() => {
          this.held.delete(field);
          if (node.link.isUp) commands.hdel(keys.heldWills(node.id), field).catch(() => undefined);
        });
    });
    return true;
  }

  /** After Redis came back (maybe empty): the wills held here are written again. */
  async rewriteHeldWills(): Promise<void> {
    if (this.held.size > 0) await this.node.link.commands.hset(keys.heldWills(this.node.id), ...[...this.held].flat());
  }

  /**
   * At join, before this node writes anything under its id: takes its own reaper lock, held (and
   * renewed) until the returned release is called once the alive key is written, so no other node
   * takes this node for dead meanwhile. While another node holds it, that node is cleaning up after
   * this id's previous run and would delete the routes and status the join writes: the join waits
   * for it (polling each half heartbeat, logged), however long it takes, since a holder renews the
   * lock only while it lives and works; one that dies leaves it to expire within three heartbeats.
   * Throws when a node with this id turned alive meanwhile (two started at once).
   */
  async joinLock(): Promise<() => Promise<unknown>> {
    const { id, logger } = this.node;
    const commands = this.node.link.commands;
    const lost = (): void => logger.log('warning', `Cluster: node ${id} lost its own clean-up lock while joining (stalled or cut off from Redis for three heartbeats).`);
    let waitedFor: string | undefined;
    let lock: ReaperLock | undefined;
    while ((lock = await ReaperLock.take(commands, id, id, this.heartbeatMs, lost)) === undefined) {
      const holder = await ReaperLock.holder(commands, id); // null: released in between, taken at the next try
      if (holder !== null && holder !== waitedFor) logger.log('notice', `Cluster: node ${holder} is cleaning up after the previous run of node ${id}; waiting for it to finish before joining.`);
      waitedFor = holder ?? waitedFor;
      await new Promise((resolve) => setTimeout(resolve, Math.max(50, this.heartbeatMs / 2)));
    }
    if (waitedFor !== undefined) logger.log('notice', `Cluster: the clean-up after the previous run of node ${id} is over; joining.`);
    const held = lock;
    const release = (): Promise<unknown> => held.release();
    if ((await commands.exists(keys.alive(id))) === 1) {
      await release();
      throw new Error(`cluster node id '${id}' is in use by a running node (choose another with --node-id)`);
    }
    return release;
  }

  /**
   * With sessions in Redis, at join under joinLock, before this node announces itself alive: its
   * previous life's leftovers (sessions, wills) are reaped like a dead node's, adopted here.
   */
  async reapOwn(): Promise<void> {
    await this.reap(this.node.id);
  }

  private async reap(dead: string): Promise<void> {
    const node = this.node;
    const commands = node.link.commands;
    const wills = await commands.hgetallBuffer(keys.wills(dead));
    // wills the dead node held for nodes it had cleaned up after, their delay not over yet
    const inherited = await commands.hgetallBuffer(keys.heldWills(dead));
    const sessions = await commands.smembers(keys.sessions(dead));
    // this node's own previous life: what it adopts stays under its id, and its routes and status are rewritten by the join
    const own = dead === node.id;
    if (own && sessions.length === 0 && Object.keys(wills).length === 0 && Object.keys(inherited).length === 0) return;
    const now = Date.now();
    const taken = new Map<string, Buffer>(Object.entries(inherited));
    const clientIds = Object.keys(wills);
    // the run each client id was claimed with, as the dead node left it: a client that comes back changes it
    const runs = clientIds.length > 0 ? await commands.hmget(keys.clientRuns, ...clientIds) : [];
    clientIds.forEach((clientId, i) => {
      const stored = wills[clientId]!;
      const will = decodeWill(stored);
      if (will === undefined) return; // damaged: not passed on
      const due = Buffer.allocUnsafe(8);
      due.writeDoubleBE(now + will.delay * 1000, 0);
      taken.set(`${dead}\u0000${clientId}\u0000${runs[i] ?? ''}`, Buffer.concat([due, stored]));
    });
    // held in Redis under this node until sent: should it die meanwhile, its own reaper sends them
    if (taken.size > 0) await commands.hset(keys.heldWills(node.id), ...[...taken].flat());
    let scheduled = 0;
    for (const [field, held] of taken) if (this.holdWill(field, held)) scheduled++;
    // persistent sessions kept in Redis live on here until their clients come back
    const adopted = await node.adoptSessions(dead, sessions);
    for (const clientId of sessions) if (wills[clientId] === undefined && !(own && node.broker.sessions.has(clientId))) await commands.eval(RELEASE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, dead);
    if (own) {
      await commands.del(keys.wills(dead)); // the session set is rewritten by the join
      node.logger.log('notice', `Cluster: node ${node.id} found its previous run not cleaned up after; it adopted ${adopted} of its persistent sessions and handles the wills of its clients (${scheduled}).`);
      return;
    }
    await commands.del(keys.routes(dead), keys.wills(dead), keys.sessions(dead), keys.heldWills(dead));
    await commands.hdel(keys.nodes, dead);
    await commands.publish(keys.routeChanges, JSON.stringify({ node: dead, gone: true }));
    node.routeCheck.drop(dead);
    node.logger.log('notice', `Cluster: node ${dead} is gone; node ${node.id} removed its routes, adopted ${adopted} persistent sessions and handles the wills of its clients (${scheduled}).`);
  }
}

/** The route sequence a node's status entry shows (node-figures.ts), if it is readable. */
function advertisedRouteSeq(status: string): number | undefined {
  try {
    const seq = (JSON.parse(status) as { routeSeq?: unknown }).routeSeq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}
