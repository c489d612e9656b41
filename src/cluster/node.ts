// One broker node of a cluster on Redis: joins, keeps the route table, forwards each PUBLISH only
// to the nodes whose routes match (batched per event-loop turn, one Redis command per node), routes
// what other nodes send with the same semantics as a local PUBLISH, keeps client ids unique
// cluster-wide (client-registry.ts), shares retained messages and dynamic-security changes
// (dynsec-share.ts), and re-synchronises after a Redis
// outage or loss. What other nodes send on its data channel is read in data-batches.ts, heartbeats
// and dead-node clean-up are in liveness.ts, a graceful stop in leave.ts; see docs/CLUSTER.md.

import { randomBytes } from 'node:crypto';
import type { ClientIdentity } from '../auth/port.js';
import type { Broker } from '../broker/broker.js';
import type { ClusterPort, LeaseHolder } from '../broker/cluster-port.js';
import type { Message } from '../broker/message.js';
import type { Session } from '../broker/session.js';
import type { RouteListener } from '../broker/router.js';
import type { Will } from '../protocol/packets.js';
import type { ClusterUrl } from './cluster-url.js';
import type { WillOwner } from './frame.js';
import { SEQ_FIELD, clusterKeys as keys } from './keys.js';
import { ClientRegistry } from './client-registry.js';
import { DynsecShare, type SharedDynsec } from './dynsec-share.js';
import { Lease } from './lease.js';
import { leaveCluster } from './leave.js';
import { Liveness } from './liveness.js';
import { RedisLink } from './redis-link.js';
import { Forwarder } from './forwarder.js';
import { HandOverWindow } from './hand-over-window.js';
import { SessionMoves } from './session-moves.js';
import { SessionRepair } from './session-repair.js';
import { RetainedShare } from './retained-share.js';
import { RetainedSweep } from './retained-sweep.js';
import { clusterSysTopics, nodeStatus } from './node-figures.js';
import { RedisStore, type Command } from '../store/redis.js';
import { LocalRoutes, RouteTable } from './route-table.js';
import { RouteCheck } from './route-check.js';
import { DataBatches } from './data-batches.js';

export interface ClusterNodeOptions {
  readonly url: ClusterUrl;
  readonly nodeId: string;
  /** Milliseconds between heartbeats; a node silent for 3 heartbeats is dead. Default 2000. */
  readonly heartbeatMs?: number;
  /** Milliseconds between sweeps of expired retained messages out of Redis (retained-sweep.ts). Default 30000. */
  readonly retainedSweepMs?: number;
  /** Extra fields of this node's status entry (its listeners). */
  readonly describe?: () => Record<string, unknown>;
  /** The dynamic-security configurations to share with the other nodes (dynsec-share.ts). */
  readonly dynsec?: readonly SharedDynsec[];
}

export interface ClusterStats {
  /** Messages sent to other nodes (one per message per node) and the Redis commands that carried them. */
  forwardedMessages: number;
  forwardedBatches: number;
  receivedMessages: number;
  receivedBatches: number;
  /** Messages for other nodes dropped while Redis was unreachable. */
  droppedWhileDown: number;
  outages: number;
  badFrames: number;
  takeovers: number;
  willsSent: number;
}

export class ClusterNode implements ClusterPort, RouteListener {
  readonly id: string;
  /**
   * This run of the node, new at each start: the client registry records it with each client id, so
   * a client that came back through this node restarted is told from one left by its previous run.
   */
  readonly run = randomBytes(8).toString('hex');
  readonly stats: ClusterStats = { forwardedMessages: 0, forwardedBatches: 0, receivedMessages: 0, receivedBatches: 0, droppedWhileDown: 0, outages: 0, badFrames: 0, takeovers: 0, willsSent: 0 };
  readonly table = new RouteTable();
  /** Heartbeat checks of the other nodes' routes (liveness.ts calls it). */
  readonly routeCheck: RouteCheck;
  readonly link: RedisLink;
  private readonly local = new LocalRoutes();
  private readonly forwarder: Forwarder;
  private readonly moves: SessionMoves;
  readonly window: HandOverWindow;
  private readonly repair: SessionRepair;
  readonly sweep: RetainedSweep;
  private readonly retained: RetainedShare;
  private readonly clients: ClientRegistry;
  private readonly dynsec: DynsecShare;
  readonly liveness: Liveness;
  private readonly dataChannel: string;
  private readonly batches: DataBatches;
  private ownSeq = 0;
  private announceScheduled = false;
  private everReady = false;
  private resyncing = false;
  /** The last re-synchronisation failed (Redis went away again, a command was refused): the next heartbeat runs it again. */
  private resyncFailed = false;
  private closed = false;

  private constructor(
    readonly broker: Broker,
    readonly options: ClusterNodeOptions,
  ) {
    this.id = options.nodeId;
    this.dataChannel = keys.data(this.id);
    this.link = new RedisLink(options.url, {
      message: (channel, data) => this.onRedisMessage(channel, data),
      ready: () => this.onReady(),
      down: (reason) => this.onDown(reason),
    });
    this.liveness = new Liveness(this, options.heartbeatMs ?? 2000);
    this.forwarder = new Forwarder(this.table, this.id, broker.router, this.link, this.stats);
    this.routeCheck = new RouteCheck(this.table, this.link, this.id);
    this.clients = new ClientRegistry(this.link, this.id, this.run, (channel, data) => this.forwarder.send(channel, data));
    this.window = new HandOverWindow(this, options.heartbeatMs ?? 2000);
    this.moves = new SessionMoves(this, options.heartbeatMs ?? 2000);
    this.batches = new DataBatches(this, this.moves, this.forwarder);
    this.retained = new RetainedShare(this);
    this.repair = new SessionRepair(this);
    this.sweep = new RetainedSweep(this.link, options.retainedSweepMs ?? 30_000);
    this.dynsec = new DynsecShare(this, options.dynsec ?? []);
  }

  /** Connects to Redis and joins; throws with a clear reason when Redis cannot be reached or the id is taken. */
  static async join(broker: Broker, options: ClusterNodeOptions): Promise<ClusterNode> {
    const node = new ClusterNode(broker, options);
    const where = options.url.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
    try {
      await node.link.connect(10_000);
    } catch (error) {
      throw new Error(`cannot reach Redis at ${where} for the cluster: ${error instanceof Error ? error.message : String(error)}`);
    }
    if ((await node.link.commands.exists(keys.alive(node.id))) === 1) {
      await node.link.close();
      throw new Error(`cluster node id '${node.id}' is in use by a running node (choose another with --node-id)`);
    }
    // no other node may clean up after this id's previous run while the join writes under it
    let release: () => Promise<unknown>;
    try {
      release = await node.liveness.joinLock();
    } catch (error) {
      await node.link.close();
      throw error;
    }
    await node.link.subscribe(node.dataChannel, [keys.routeChanges, keys.retainedChanges, ...(node.dynsec.size > 0 ? [keys.dynsecChanges] : [])]);
    broker.cluster = node;
    broker.router.listener = node;
    const persistence = broker.persistence;
    if (persistence?.shared === true) {
      // sessions in Redis: QoS 1/2 batches for other nodes go through their inboxes, and a
      // publisher is acknowledged once its message is there (see session-moves.ts)
      node.forwarder.inbox = true;
      node.forwarder.window = node.window;
      persistence.barrier = () => node.forwarder.barrier();
    }
    try {
      // this id's previous run, not cleaned up after: its sessions are adopted here before it is alive again
      if (persistence?.shared === true) await node.liveness.reapOwn();
      await node.resync();
    } finally {
      await release().catch(() => undefined);
    }
    node.liveness.start();
    node.sweep.start();
    broker.options.logger.log('notice', `Cluster: node ${node.id} joined through Redis at ${where}${node.link.sharded ? ' (Redis Cluster, sharded pub/sub)' : ''}.`);
    return node;
  }

  get logger(): Broker['options']['logger'] {
    return this.broker.options.logger;
  }

  route(message: Message, now: number): number {
    return this.forwarder.route(message, now);
  }

  /** Sends bytes on another node's data channel. */
  send(channel: string, data: Buffer): void {
    this.forwarder.send(channel, data);
  }

  handOver(clientId: string, clean: boolean): Promise<void> {
    return this.moves.take(clientId, clean);
  }

  adopting(clientId: string): Promise<void> | undefined {
    return this.moves.adopting(clientId);
  }

  sessionArrived(clientId: string, session: Session | undefined): void {
    this.window.arrived(clientId, session);
  }

  /** Queues a frame for another node outside routing (hand-over-window.ts), through its inbox when durable. */
  forwardTo(node: string, frame: Buffer, durable: boolean): void {
    this.forwarder.forwardTo(node, frame, durable);
  }

  /** Resolves once the inbox writes of the durable frames queued so far are answered. */
  async forwardBarrier(): Promise<void> {
    this.forwarder.flush();
    await this.forwarder.barrier();
  }

  /**
   * A dead node whose sessions this node adopts leaves the route table, here and (`dropped`, or
   * `gone`) on every node. Its routes leave Redis first (before the announcement, on this node's
   * command connection): its clean-up goes on (inbox replay, then its status entry), and until then
   * the other nodes' heartbeat route check would read them back in, as its status shows routes they
   * no longer have, and send to its inbox after the last replay (route-check.ts, drop()).
   */
  dropNode(dead: string): void {
    this.routeCheck.drop(dead);
    if (this.link.isUp) this.link.commands.del(keys.routes(dead)).catch(() => undefined);
    this.announce(dead);
  }

  /** Adopts a dead node's persistent sessions (liveness.ts, when this node cleans up after it). */
  adoptSessions(dead: string, clientIds: readonly string[]): Promise<number> {
    return this.broker.persistence?.shared === true ? this.moves.adopt(dead, clientIds) : Promise.resolve(0);
  }

  lease(name: string, holder: LeaseHolder): Lease {
    const lease = new Lease(this.link, name, this.id, this.options.heartbeatMs ?? 2000, holder);
    lease.start();
    return lease;
  }

  // ---- what other nodes send -----------------------------------------------------------------

  private onRedisMessage(channel: string, data: Buffer): void {
    // leaving: batches arriving now stay in the inbox, for the node adopting this one's sessions
    if (this.closed) return;
    if (channel === this.dataChannel) {
      this.batches.received(data);
    } else if (channel === keys.routeChanges) {
      this.onRouteChange(data.toString('utf8'));
    } else if (channel === keys.retainedChanges) {
      const error = this.retained.received(data);
      if (error !== undefined) this.badFrame(`retained change: ${error}`);
    } else if (channel === keys.dynsecChanges) {
      const error = this.dynsec.received(data.toString('utf8'));
      if (error !== undefined) this.badFrame(error);
    }
  }

  /** The batch's messages are in this node's sessions: its inbox copy goes (data-batches.ts). */
  inboxStored(field: string): void {
    this.batches.inboxStored(field);
  }

  /** A command committed with the sessions' pending changes: in their MULTI on a single server, after them on a Redis Cluster. */
  commitWithSessions(command: Command): void {
    const store = this.broker.options.store;
    if (store instanceof RedisStore) store.alsoCommit(command);
  }

  private onRouteChange(text: string): void {
    let change: { node?: unknown; seq?: unknown; added?: unknown; removed?: unknown; reset?: unknown; gone?: unknown; dropped?: unknown; left?: unknown };
    try {
      change = JSON.parse(text) as typeof change;
    } catch {
      return this.badFrame('route change is not JSON');
    }
    const { node, seq } = change;
    if (typeof node !== 'string' || node === this.id) return;
    if (change.gone === true) {
      this.routeCheck.drop(node);
      return;
    }
    if (change.left === true) return this.liveness.collect(node); // it left sessions to adopt (leave.ts)
    if (typeof change.dropped === 'string' && change.dropped !== this.id) this.routeCheck.drop(change.dropped); // adopted by `node`
    const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
    if (typeof seq !== 'number') return this.badFrame('route change without a sequence number');
    if (change.reset === true) {
      this.table.replaceNode(node, list(change.added), seq);
      return;
    }
    if (!this.table.applyUpdate(node, seq, list(change.added), list(change.removed))) void this.routeCheck.read(node);
  }

  badFrame(why: string): void {
    this.stats.badFrames++;
    this.logger.log('warning', `Cluster: ignored a bad message from Redis (${why}).`);
  }

  // ---- this node's routes --------------------------------------------------------------------

  routeAdded(topicFilter: string, group: string | undefined): void {
    this.local.added(LocalRoutes.entry(topicFilter, group));
    this.scheduleAnnounce();
  }

  routeRemoved(topicFilter: string, group: string | undefined): void {
    this.local.removed(LocalRoutes.entry(topicFilter, group));
    this.scheduleAnnounce();
  }

  private scheduleAnnounce(): void {
    if (this.announceScheduled) return;
    this.announceScheduled = true;
    process.nextTick(() => this.announce());
  }

  /**
   * Writes the turn's net route changes to Redis, then tells the other nodes. With `dropped` (a
   * dead node whose sessions this node adopted), one message carries both its removal and the
   * adopted sessions' routes, so no node routes a message to neither in between.
   */
  private announce(dropped?: string): void {
    this.announceScheduled = false;
    const { added, removed } = this.local.takeChanges();
    const failed = (): void => undefined;
    if (added.length === 0 && removed.length === 0) {
      if (dropped !== undefined) this.link.commands.publish(keys.routeChanges, JSON.stringify({ node: dropped, gone: true })).catch(failed);
      return;
    }
    const seq = ++this.ownSeq;
    this.table.applyUpdate(this.id, seq, added, removed);
    if (!this.link.isUp) return; // the full announcement after the outage carries it
    const commands = this.link.commands;
    const key = keys.routes(this.id);
    if (removed.length > 0) commands.hdel(key, ...removed).catch(failed);
    commands.hset(key, SEQ_FIELD, String(seq), ...added.flatMap((entry) => [entry, '1'])).catch(failed);
    commands.publish(keys.routeChanges, JSON.stringify({ node: this.id, seq, added, removed, ...(dropped === undefined ? {} : { dropped }) })).catch(failed);
  }

  /** The sequence number of this node's last route change; in its status, so others can check theirs. */
  get routeSeq(): number {
    return this.ownSeq;
  }

  // ---- client identity, wills, sessions (client-registry.ts) ---------------------------------------------------

  clientConnected(client: ClientIdentity, clean: boolean, will: Will | undefined, sessionExpiry: number): void {
    this.clients.connected(client, clean, will, sessionExpiry);
  }

  clientRenamed(client: ClientIdentity): void {
    this.clients.renamed(client);
  }

  willSettled(clientId: string): void {
    this.clients.willSettled(clientId);
  }

  sessionEnded(clientId: string): void {
    this.clients.ended(clientId);
  }

  retainedChanged(message: Message): void {
    this.retained.changed(message);
  }

  // ---- Redis up and down ---------------------------------------------------------------------

  private onDown(reason: string): void {
    if (this.closed) return;
    this.stats.outages++;
    this.logger.log('warning', `Cluster: ${reason}; serving local clients only until it returns (outage ${this.stats.outages}).`);
  }

  private onReady(): void {
    if (this.closed) return;
    if (!this.everReady) {
      this.everReady = true; // the first connection: join() does the resync
      return;
    }
    this.resyncAfterLoss(`Cluster: Redis is back; node ${this.id} re-synchronised (${this.stats.droppedWhileDown} cross-node messages dropped so far).`);
  }

  /**
   * This node's alive key was gone at a heartbeat while Redis stayed reachable: Redis was flushed or
   * restarted between two heartbeats (or this node stalled for three): everything is written again.
   */
  keysLost(): void {
    if (this.closed || this.resyncing) return;
    this.logger.log('warning', `Cluster: node ${this.id}'s keys were gone from Redis (flushed, restarted empty, or expired); re-synchronising.`);
    this.resyncAfterLoss(`Cluster: node ${this.id} re-synchronised.`);
  }

  /** Each heartbeat: a re-synchronisation that failed runs again. */
  retryResync(): void {
    if (!this.resyncFailed || this.closed || this.resyncing) return;
    this.resyncAfterLoss(`Cluster: node ${this.id} re-synchronised on a later heartbeat.`);
  }

  /** Each heartbeat: sessions Redis missed changes of are written back (session-repair.ts). */
  repairSessions(): void {
    void this.repair.run();
  }

  private resyncAfterLoss(done: string): void {
    this.resyncing = true;
    this.resync().then(
      () => {
        this.resyncFailed = false;
        this.logger.log('notice', done);
        this.repair.afterOutage(); // Redis may have lost the sessions this node holds
      },
      (error: unknown) => {
        this.resyncFailed = true;
        this.logger.log('warning', `Cluster: re-synchronisation failed: ${error instanceof Error ? error.message : String(error)}; retrying on the next heartbeat.`);
      },
    ).finally(() => (this.resyncing = false));
  }

  /**
   * Full state exchange, at join and after every outage (Redis may have restarted empty): this
   * node writes its routes, sessions, wills and status, then reads every node's routes and the
   * retained messages.
   */
  async resync(): Promise<void> {
    const commands = this.link.commands;
    const entries = this.local.all();
    const seq = ++this.ownSeq;
    this.table.replaceNode(this.id, entries, seq);
    const routesKey = keys.routes(this.id);
    await commands.del(routesKey);
    await commands.hset(routesKey, SEQ_FIELD, String(seq), ...entries.flatMap((entry) => [entry, '1']));
    await commands.publish(keys.routeChanges, JSON.stringify({ node: this.id, seq, added: entries, reset: true }));
    await this.liveness.beat();
    await this.clients.rewrite([...this.broker.sessions.keys()]);
    await this.liveness.rewriteHeldWills();

    // nodes missing from the status hash are not dropped here: after Redis came back empty the others
    // may not have written theirs yet; the heartbeat drops a node missing at two in a row (route-check.ts)
    const status = await commands.hgetall(keys.nodes);
    for (const node of Object.keys(status)) if (node !== this.id) await this.routeCheck.read(node);

    await this.retained.load();
    await this.dynsec.load();
  }

  /**
   * Publishes a will for a client of a dead node, as this node (liveness.ts decides when), if the
   * client may publish to its topic: checked now, with the identity stored with the will, as the
   * client's own node checks a will when it sends it (handlers/disconnect.ts). A will stored by an
   * older version has no identity and is sent unchecked, as that version did.
   */
  publishOrphanWill(message: Message, owner: WillOwner | undefined): void {
    if (owner === undefined) return this.sendOrphanWill(message);
    const client: ClientIdentity = { clientId: message.origin ?? '', ...owner };
    const send = (allowed: boolean): void => {
      if (allowed) return this.sendOrphanWill(message);
      this.logger.log('notice', `Cluster: will of client ${client.clientId} to ${message.topic} not sent: the client may not publish to that topic.`);
    };
    const allowed = this.broker.options.authorizer.canPublish(client, message.topic, message.qos, message.retain);
    if (allowed instanceof Promise) void allowed.then(send, () => undefined);
    else send(allowed);
  }

  private sendOrphanWill(message: Message): void {
    const now = Date.now();
    const expiry = message.properties?.messageExpiryInterval;
    const fresh = new (message.constructor as typeof Message)(message.topic, message.payload, message.qos, message.retain, message.properties, expiry === undefined ? 0 : now + expiry * 1000, message.origin, now);
    this.stats.willsSent++;
    this.broker.route(fresh, now);
  }

  sysTopics(): ReadonlyArray<readonly [string, string]> {
    return clusterSysTopics(this, this.liveness.nodeCount);
  }

  /** What this node tells the cluster about itself on each heartbeat. */
  status(): Record<string, unknown> {
    return nodeStatus(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.liveness.stop();
    this.sweep.stop();
    this.window.close();
    this.forwarder.flush();
    if (this.broker.router.listener === this) this.broker.router.listener = undefined;
    await leaveCluster(this);
    await this.link.close();
  }
}
