// The window of a live hand-over (sessions in Redis), when a persistent session moves from node A,
// which lets it go, to node B, which reads it from Redis. Nothing acknowledged may be lost in it:
//  - A stops delivering to the session (its subscriptions leave A's router) at the moment it cuts
//    the session for the commit, and keeps a tombstone: client id → B with the subscriptions. The
//    tombstone holds A's route entries for them, so every node keeps routing the session's messages
//    to A (make before break) until B's entries are in A's table (then two heartbeats more, for the
//    other nodes to have them too). Whatever A routes meanwhile — forwarded to it or published on it
//    — that matches the tombstone is re-forwarded to B as a frame targeted at that one session,
//    through the forwarder, so into B's inbox too. What A delivered before the cut is in the
//    committed session; what it gets after is re-forwarded; nothing falls in between. A batch
//    from A's inbox that had frames re-forwarded leaves A's inbox only once their writes to B's
//    inbox are answered: in the commit of its other frames' entries its copy is rewritten to hold
//    only the re-forwarded (targeted) frames, deleted after the forwarder's barrier. The two
//    writes go on two connections, so A dying in between would otherwise lose them.
//  - B buffers targeted frames until the session is installed (after what Redis held), then
//    delivers them to it alone, keeping their arrival order (per publisher, the order A got them).
//    Their batches stay in B's inbox until then: deleted in the commit of the entries made from
//    them, so B dying before that leaves them for the node that cleans up after it (session-moves.ts).
//  - Duplicates: once B's entries are announced a message can reach B both directly and through A.
//    Frames carry an id (origin node, its routing sequence), the same on every path; for a while
//    after the install B records the ids of the frames that reached the session either way: a
//    targeted copy of a direct frame it already routed to the session is dropped, and a direct
//    frame whose targeted copy came first (the origin's two writes can reach Redis apart, so either
//    order happens, even on one server) is routed to everyone but that session. A direct frame that
//    arrived before the install never reached the session, so its targeted copy must
//    be (and is) delivered. See docs/CLUSTER.md, "Sessions in Redis".

import { Router } from '../broker/router.js';
import { clusterIdKey as idKey, type Message } from '../broker/message.js';
import type { Session, Subscription } from '../broker/session.js';
import { TopicIndex } from '../broker/topic-index.js';
import { encodeMessageFrame, type FrameId, type GroupRef, type MessageFrame } from './frame.js';
import type { ClusterNode } from './node.js';

/** A session this node let go, while its messages may still be routed here. */
interface Tombstone {
  readonly clientId: string;
  /** The node that takes the session. */
  readonly to: string;
  readonly subscriptions: readonly Subscription[];
  readonly index: TopicIndex<Subscription>;
  readonly started: number;
  /** When B's entries were first all seen in this node's table. */
  seenAt: number;
  readonly timer: NodeJS.Timeout;
}

/** A session arriving here: targeted frames wait for it, then the ids of direct ones are recorded for a while. */
interface Arrival {
  buffered: MessageFrame[] | undefined;
  /** The inbox fields of the batches the buffered frames came in: kept in the inbox until they are delivered. */
  readonly fields: Set<string>;
  session: Session | undefined;
  index: TopicIndex<Subscription> | undefined;
  readonly seen: Set<string>;
}

/** Ids recorded per arrived session at most (a flood during the window keeps the newest). */
const MAX_SEEN = 100_000;


export class HandOverWindow {
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly arrivals = new Map<string, Arrival>();
  /** Inbox fields whose deletion waits for buffered frames, with how many arrivals wait on each. */
  private readonly heldFields = new Map<string, number>();
  /** Targeted frames dropped: their session was neither here, arriving, nor let go from here. */
  orphaned = 0;
  /**
   * While the node reads an inbox batch with a tombstone in place (node.ts): the durable frames
   * re-forwarded from it, targeted, for its inbox copy to keep until their writes are answered.
   */
  reforwarded: Buffer[] | undefined;

  constructor(
    private readonly node: ClusterNode,
    private readonly heartbeatMs: number,
  ) {}

  /** True while this node has a tombstone: the forwarder and the data channel call in. */
  get leaving(): boolean {
    return this.tombstones.size > 0;
  }

  get recording(): boolean {
    return this.arrivals.size > 0;
  }

  // ---- the node letting a session go (A) -------------------------------------------------------

  /**
   * The cut: called by the broker just before the session's last commit, while its subscriptions
   * are still in the router (they leave it right after). Holds their route entries.
   */
  leave(session: Session, to: string): void {
    this.end(session.clientId);
    const subscriptions = [...session.subscriptions.values()];
    const index = new TopicIndex<Subscription>();
    for (const subscription of subscriptions) {
      index.set(subscription.topicFilter, subscription.filter, subscription);
      this.node.routeAdded(subscription.topicFilter, subscription.group);
    }
    const timer = setInterval(() => this.check(session.clientId), Math.max(10, this.heartbeatMs / 4));
    timer.unref();
    this.tombstones.set(session.clientId, { clientId: session.clientId, to, subscriptions, index, started: Date.now(), seenAt: 0, timer });
  }

  /** Ends a tombstone once B's entries have been in the table for two heartbeats (fifteen in all at most). */
  private check(clientId: string): void {
    const tombstone = this.tombstones.get(clientId);
    if (tombstone === undefined) return;
    const now = Date.now();
    if (tombstone.seenAt === 0) {
      const entries = this.node.table.entriesOf(tombstone.to);
      const routed = tombstone.subscriptions.every((s) => entries.has(s.group === undefined ? s.topicFilter : `$share/${s.group}/${s.topicFilter}`));
      if (routed) tombstone.seenAt = now;
    }
    if ((tombstone.seenAt !== 0 && now - tombstone.seenAt >= this.heartbeatMs * 2) || now - tombstone.started >= this.heartbeatMs * 15) this.end(clientId);
  }

  private end(clientId: string): void {
    const tombstone = this.tombstones.get(clientId);
    if (tombstone === undefined) return;
    clearInterval(tombstone.timer);
    this.tombstones.delete(clientId);
    for (const subscription of tombstone.subscriptions) this.node.routeRemoved(subscription.topicFilter, subscription.group);
  }

  /**
   * A message this node routed (forwarded to it with that scope, or published here): re-forwarded,
   * targeted, to the node taking each tombstoned session it matches. A shared group counts only
   * where this node was to deliver it and has no member of its own left.
   */
  routed(message: Message, id: FrameId | undefined, plain: boolean, groupAllowed: (group: string, topicFilter: string) => boolean): void {
    for (const tombstone of this.tombstones.values()) {
      const matches = tombstone.index.match(message.topic);
      if (matches.length === 0) continue;
      let toPlain = false;
      let groups: GroupRef[] | undefined;
      for (const subscription of matches) {
        if (subscription.group === undefined) toPlain ||= plain;
        else if (groupAllowed(subscription.group, subscription.topicFilter) && !this.node.broker.router.hasSharedMembers(subscription.group, subscription.topicFilter)) (groups ??= []).push({ group: subscription.group, topicFilter: subscription.topicFilter });
      }
      if (!toPlain && groups === undefined) continue;
      this.reforward(tombstone.to, encodeMessageFrame(message, toPlain, groups, id, tombstone.clientId), message.qos > 0);
    }
  }

  private reforward(node: string, frame: Buffer, durable: boolean): void {
    this.node.forwardTo(node, frame, durable);
    if (durable) this.reforwarded?.push(frame);
  }

  // ---- the node taking a session (B) -----------------------------------------------------------

  /** A hand-over starts: targeted frames for the client wait until arrived(). */
  expect(clientId: string): void {
    const arrival = this.arrivals.get(clientId);
    if (arrival !== undefined) {
      arrival.buffered ??= [];
      return;
    }
    this.arrivals.set(clientId, { buffered: [], fields: new Set(), session: undefined, index: undefined, seen: new Set() });
  }

  /**
   * The session is installed (or not, for a clean start or a session Redis no longer had): the
   * buffered frames go to it, after what Redis held; then, for as long as a tombstone can last,
   * the ids of direct frames it matched are recorded.
   */
  arrived(clientId: string, session: Session | undefined): void {
    const arrival = this.arrivals.get(clientId);
    if (arrival === undefined) return;
    const buffered = arrival.buffered ?? [];
    arrival.buffered = undefined;
    if (session === undefined) {
      this.arrivals.delete(clientId);
      this.releaseFields(arrival); // a clean start, or no session in Redis: nothing to deliver them to
      return;
    }
    arrival.session = session;
    arrival.index = new TopicIndex<Subscription>();
    for (const subscription of session.subscriptions.values()) arrival.index.set(subscription.topicFilter, subscription.filter, subscription);
    // a tombstone lasts fifteen heartbeats at most: past that, no targeted copy can come
    const timer = setTimeout(() => {
      if (this.arrivals.get(clientId) === arrival && arrival.buffered === undefined) this.arrivals.delete(clientId);
    }, this.heartbeatMs * 20);
    timer.unref();
    for (const frame of buffered) this.deliver(arrival, frame);
    // their inbox copies go in the commit of the entries just made from them
    this.releaseFields(arrival);
  }

  private releaseFields(arrival: Arrival): void {
    for (const field of arrival.fields) this.release(field);
    arrival.fields.clear();
  }

  /** The inbox copy of a batch stays until released as often as held; then it goes with the sessions' next commit. */
  hold(field: string): void {
    this.heldFields.set(field, (this.heldFields.get(field) ?? 0) + 1);
  }

  release(field: string): void {
    const count = this.heldFields.get(field);
    if (count === undefined) return; // closed: the copy stays, for the node adopting this one's sessions
    if (count > 1) this.heldFields.set(field, count - 1);
    else {
      this.heldFields.delete(field);
      this.node.inboxStored(field);
    }
  }

  /**
   * A direct (untargeted) frame is about to be routed here: its id is recorded for the arrived
   * sessions it matches. Returns the one such session that already had it through a targeted copy
   * (which can come first: the origin's two writes may reach Redis apart), for routing to skip it.
   */
  received(frame: MessageFrame): Session | undefined {
    const id = frame.id;
    if (id === undefined) return undefined;
    let key: string | undefined;
    let had: Session | undefined;
    for (const arrival of this.arrivals.values()) {
      if (arrival.index === undefined || arrival.index.match(frame.message.topic).length === 0) continue;
      key ??= idKey(id);
      if (arrival.seen.has(key)) had ??= arrival.session;
      else remember(arrival.seen, key);
    }
    return had;
  }

  /**
   * A frame targeted at one session: re-forwarded if let go from here, buffered while arriving,
   * else delivered. True when buffered: the inbox copy of its batch (field, if it came through the
   * inbox) then stays until the session is installed and the entries made from it are committed.
   */
  targeted(frame: MessageFrame, clientId: string, field?: string): boolean {
    const tombstone = this.tombstones.get(clientId);
    if (tombstone !== undefined) {
      this.reforward(tombstone.to, encodeMessageFrame(frame.message, frame.plain, frame.groups, frame.id, clientId), frame.message.qos > 0);
      return false;
    }
    const arrival = this.arrivals.get(clientId);
    if (arrival?.buffered !== undefined) {
      arrival.buffered.push(frame);
      if (field !== undefined && !arrival.fields.has(field)) {
        arrival.fields.add(field);
        this.hold(field);
      }
      return true;
    }
    if (arrival !== undefined) {
      this.deliver(arrival, frame);
      return false;
    }
    const session = this.node.broker.sessions.get(clientId);
    if (session === undefined) {
      this.orphaned++;
      return false;
    }
    deliverToSession(session, frame.message, Date.now(), frame.plain, frame.groups);
    return false;
  }

  private deliver(arrival: Arrival, frame: MessageFrame): void {
    const session = arrival.session;
    if (session === undefined || this.node.broker.sessions.get(session.clientId) !== session) return;
    if (frame.id !== undefined) {
      const key = idKey(frame.id);
      if (arrival.seen.has(key)) return; // it came directly and the session had it
      remember(arrival.seen, key);
    }
    deliverToSession(session, frame.message, Date.now(), frame.plain, frame.groups);
  }

  close(): void {
    for (const tombstone of this.tombstones.values()) clearInterval(tombstone.timer);
    this.tombstones.clear();
    this.arrivals.clear();
    this.heldFields.clear(); // left in the inbox, for the node that adopts this one's sessions
  }
}

function remember(seen: Set<string>, key: string): void {
  if (seen.size >= MAX_SEEN) seen.delete(seen.values().next().value!);
  seen.add(key);
}

/**
 * Delivers a message to one session only, with the semantics of routing (its matching
 * subscriptions merged, QoS downgraded, Retain As Published, No Local, subscription ids) and the
 * frame's scope. Expired messages are dropped [MQTT-3.3.2-5].
 */
export function deliverToSession(session: Session, message: Message, now: number, plain: boolean, groups: readonly GroupRef[]): void {
  if (message.isExpired(now)) return;
  const router = new Router(() => true);
  session.routeMark = -1; // the scratch mark of the node's router must not match this one's
  for (const subscription of session.subscriptions.values()) router.add(subscription);
  router.publish(message, now, { plain, sharedAllowed: (g) => groups.some((ref) => ref.group === g.group && ref.topicFilter === g.topicFilter) });
  session.routeMark = -1;
}
