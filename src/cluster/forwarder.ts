// Forwarding: a PUBLISH accepted on this node goes to the other nodes whose route entries match
// its topic, each shared group to one node (round-robin over the nodes with members), and is routed
// here with the scope this node's picks allow. Frames are queued per destination node and sent at
// the end of the event-loop turn, one Redis command per node (ioredis pipelines them into one write).

import type { Message } from '../broker/message.js';
import type { RouteScope, Router, SharedGroup } from '../broker/router.js';
import { encodeInboxFrame, encodeMessageFrame, type FrameId, type GroupRef } from './frame.js';
import type { HandOverWindow } from './hand-over-window.js';
import { clusterKeys as keys } from './keys.js';
import type { ClusterStats } from './node.js';
import type { RedisLink } from './redis-link.js';
import type { RouteTable } from './route-table.js';
import { deferred, type Deferred } from '../store/deferred.js';
import { ScratchList } from '../broker/scratch-list.js';

/** A destination node, with scratch fields valid inside one route() call (as the router's sessions). */
class Peer {
  mark = 0;
  plain = false;
  groups: GroupRef[] | undefined = undefined;
  frames: Buffer[] = [];
  /** The batch holds a QoS 1/2 message: it goes through the node's inbox (when `inbox` is on). */
  durable = false;
  constructor(
    readonly node: string,
    readonly channel: string,
  ) {}
}

/** A day: how long a dead node's inbox waits for a node to adopt its sessions. */
const INBOX_TTL_MS = 86_400_000;

const sharedKey = (group: string, topicFilter: string): string => `${group}\u0000${topicFilter}`;

export class Forwarder {
  private readonly peers = new Map<string, Peer>();
  private readonly targets = new ScratchList<Peer>();
  private readonly flushing = new Set<Peer>();
  private seq = 0;
  private flushScheduled = false;
  /**
   * Sessions are in Redis: each QoS 1/2 batch is also written to the receiving node's inbox, and
   * the publishers' acknowledgements wait for that write (barrier()), so a message acknowledged
   * here survives the death of the node it was sent to.
   */
  inbox = false;
  private batchSeq = 0;
  /** Resolved once this turn's inbox writes are answered; created by the first QoS 1/2 frame. */
  private turn: Deferred | undefined;
  /** The inbox writes Redis has not answered yet. */
  private handedOff: Promise<void> | undefined;
  /** Sessions let go from here whose messages are re-forwarded to their new node (sessions in Redis). */
  window: HandOverWindow | undefined = undefined;

  constructor(
    private readonly table: RouteTable,
    private readonly id: string,
    private readonly router: Router,
    private readonly link: RedisLink,
    private readonly stats: ClusterStats,
  ) {}

  route(message: Message, now: number): number {
    const topic = message.topic;
    // $SYS is per node: never forwarded
    if (topic.charCodeAt(0) === 0x24 && topic.startsWith('$SYS')) return this.router.publish(message, now);
    const routes = this.table.index.match(topic);
    if (routes.length === 0) {
      const delivered = this.router.publish(message, now);
      if (this.window?.leaving === true) this.window.routed(message, { origin: this.id, seq: ++this.seq }, true, () => true);
      return delivered;
    }
    const seq = ++this.seq;
    // with sessions in Redis every frame says which message it is, for a hand-over's duplicates
    const id: FrameId | undefined = this.inbox ? { origin: this.id, seq } : undefined;
    const targets = this.targets;
    let skipped: Set<string> | undefined;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      let peer: Peer;
      if (typeof route === 'string') {
        if (route === this.id) continue;
        peer = this.peer(route, seq);
        peer.plain = true;
      } else {
        const node = route.pick(); // one delivery per group cluster-wide (MQTT 5.0 §4.8.2)
        if (node === this.id) continue;
        (skipped ??= new Set()).add(sharedKey(route.group, route.topicFilter));
        peer = this.peer(node, seq);
        (peer.groups ??= []).push(route);
      }
    }
    const scope: RouteScope | undefined = skipped === undefined ? undefined : { plain: true, sharedAllowed: (g: SharedGroup) => !skipped.has(sharedKey(g.group, g.topicFilter)) };
    const delivered = this.router.publish(message, now, scope);
    const remote = targets.count;
    if (remote === 0) {
      this.reforward(message, id, seq, skipped);
      return delivered;
    }
    if (!this.link.isUp) {
      this.stats.droppedWhileDown += remote;
    } else {
      let plainFrame: Buffer | undefined;
      for (let i = 0; i < remote; i++) {
        const peer = targets.get(i);
        const frame = peer.groups === undefined ? (plainFrame ??= encodeMessageFrame(message, true, undefined, id)) : encodeMessageFrame(message, peer.plain, peer.groups, id);
        peer.frames.push(frame);
        this.flushing.add(peer);
      }
      if (this.inbox && message.qos > 0) {
        for (let i = 0; i < remote; i++) targets.get(i).durable = true;
        this.turn ??= deferred();
      }
      this.stats.forwardedMessages += remote;
      this.scheduleFlush();
    }
    targets.clear();
    // after the direct frames: a node getting both sees the direct one first
    this.reforward(message, id, seq, skipped);
    return delivered + remote;
  }

  /** Sessions let go from here get what this node's own publishers send them meanwhile (hand-over-window.ts). */
  private reforward(message: Message, id: FrameId | undefined, seq: number, skipped: Set<string> | undefined): void {
    if (this.window?.leaving !== true) return;
    this.window.routed(message, id ?? { origin: this.id, seq }, true, (group, topicFilter) => skipped === undefined || !skipped.has(sharedKey(group, topicFilter)));
  }

  /** Queues one frame for a node outside route() (a targeted re-forward), through its inbox when durable. */
  forwardTo(node: string, frame: Buffer, durable: boolean): void {
    if (!this.link.isUp) {
      this.stats.droppedWhileDown++;
      return;
    }
    let peer = this.peers.get(node);
    if (peer === undefined) this.peers.set(node, (peer = new Peer(node, keys.data(node))));
    peer.frames.push(frame);
    this.flushing.add(peer);
    if (durable && this.inbox) {
      peer.durable = true;
      this.turn ??= deferred();
    }
    this.stats.forwardedMessages++;
    this.scheduleFlush();
  }

  private peer(node: string, seq: number): Peer {
    let peer = this.peers.get(node);
    if (peer === undefined) this.peers.set(node, (peer = new Peer(node, keys.data(node))));
    if (peer.mark !== seq) {
      peer.mark = seq;
      peer.plain = false;
      peer.groups = undefined;
      this.targets.push(peer);
    }
    return peer;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  /** One Redis command per destination node for everything routed this turn (auto-pipelined together). */
  flush(): void {
    this.flushScheduled = false;
    const writes: Promise<unknown>[] = [];
    for (const peer of this.flushing) {
      const frames = peer.frames;
      peer.frames = [];
      this.stats.forwardedBatches++;
      if (peer.durable) {
        peer.durable = false;
        const field = `${this.id}:${++this.batchSeq}`;
        frames.unshift(encodeInboxFrame(field));
        const data = Buffer.concat(frames);
        const inbox = keys.inbox(peer.node);
        writes.push(this.link.commands.hset(inbox, field, data));
        this.link.commands.pexpire(inbox, INBOX_TTL_MS).catch(() => undefined);
        this.send(peer.channel, data);
        continue;
      }
      this.send(peer.channel, frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    }
    this.flushing.clear();
    const turn = this.turn;
    if (turn === undefined) return;
    this.turn = undefined;
    // handed off in order: this turn counts once the earlier turns' writes are answered too
    const done = Promise.all([this.handedOff?.catch(() => undefined), ...writes]).then(() => undefined);
    this.handedOff = done;
    const settled = (): void => {
      if (this.handedOff === done) this.handedOff = undefined;
    };
    done.then(turn.resolve, turn.reject);
    done.then(settled, settled);
    // a failed write rejects those waiting on the barrier; a turn of re-forwards nobody waits
    // for must not end the process as an unhandled rejection
    turn.promise.catch(() => undefined);
  }

  /** What a QoS 1/2 acknowledgement waits for: the inbox writes of this turn and those before. */
  barrier(): Promise<void> | undefined {
    return this.turn?.promise ?? this.handedOff;
  }

  send(channel: string, data: Buffer): void {
    const commands = this.link.commands;
    const sent = this.link.sharded ? commands.spublish(channel, data) : commands.publish(channel, data);
    sent.catch(() => this.stats.droppedWhileDown++);
  }
}
