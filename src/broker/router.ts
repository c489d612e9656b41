// Routes one message to the sessions whose subscriptions match its topic.
// Matching is the topic index's job; here overlapping subscriptions of one session are merged into
// a single delivery at the highest granted QoS, with every matching subscription identifier
// [MQTT-3.3.4-2][MQTT-3.3.4-3], and each shared-subscription group gets one copy (MQTT 5.0 §4.8.2).
// Runs synchronously inside one event-loop turn: the merge uses scratch fields on the sessions.

import type { QoS } from '../protocol/packets.js';
import type { Message } from './message.js';
import type { Session, Subscription } from './session.js';
import { TopicIndex } from './topic-index.js';
import { ScratchList } from './scratch-list.js';

/** The members of one "$share/{group}/{filter}" subscription group. */
export class SharedGroup {
  readonly members: Subscription[] = [];
  private next = 0;
  constructor(
    readonly group: string,
    readonly topicFilter: string,
  ) {}

  /** Round-robin over members, preferring connected ones so a message is not parked needlessly. */
  pick(): Subscription | undefined {
    const count = this.members.length;
    for (let i = 0; i < count; i++) {
      const member = this.members[(this.next + i) % count]!;
      if (member.session.link !== null) {
        this.next = (this.next + i + 1) % count;
        return member;
      }
    }
    if (count === 0) return undefined;
    const member = this.members[this.next % count]!;
    this.next = (this.next + 1) % count;
    return member;
  }
}

type Route = Subscription | SharedGroup;

/**
 * Limits one routing of a message (cluster only): whether plain subscriptions get it, and which
 * shared groups deliver it here; the other nodes' picks are theirs (one delivery per group).
 */
export interface RouteScope {
  readonly plain: boolean;
  sharedAllowed(group: SharedGroup): boolean;
}

/** Told when a (filter, session) route appears or goes, so a cluster can announce its filters. */
export interface RouteListener {
  routeAdded(topicFilter: string, group: string | undefined): void;
  routeRemoved(topicFilter: string, group: string | undefined): void;
}

/** Decides whether a session may receive a message (the ACL's read check); must be synchronous. */
export type ReceiveCheck = (session: Session, message: Message) => boolean;

/** Index key of shared groups; client ids cannot contain U+0000 [MQTT-1.5.4-2], so no clash. */
const sharedKey = (group: string): string => `\u0000${group}`;

export class Router {
  private readonly index: TopicIndex<Route>;
  private routeSeq = 0;
  private readonly targets = new ScratchList<Session>();
  private sharedCount = 0;
  private plainCount = 0;
  /** Set by a cluster backplane; undefined on a single node. */
  listener: RouteListener | undefined = undefined;

  constructor(
    private readonly canReceive: ReceiveCheck,
    cacheSize?: number,
  ) {
    this.index = new TopicIndex<Route>(cacheSize === undefined ? {} : { cacheSize });
  }

  /** Subscriptions in the index, a shared group counting once per member. */
  get subscriptionCount(): number {
    return this.plainCount + this.sharedCount;
  }

  get sharedSubscriptionCount(): number {
    return this.sharedCount;
  }

  add(subscription: Subscription): void {
    if (subscription.group === undefined) {
      if (this.index.set(subscription.topicFilter, subscription.session.clientId, subscription) === undefined) {
        this.plainCount++;
        this.listener?.routeAdded(subscription.topicFilter, undefined);
      }
      return;
    }
    const key = sharedKey(subscription.group);
    let group = this.index.get(subscription.topicFilter, key) as SharedGroup | undefined;
    if (group === undefined) {
      group = new SharedGroup(subscription.group, subscription.topicFilter);
      this.index.set(subscription.topicFilter, key, group);
    }
    const at = group.members.findIndex((m) => m.session === subscription.session);
    if (at >= 0) group.members[at] = subscription;
    else {
      group.members.push(subscription);
      this.sharedCount++;
      this.listener?.routeAdded(subscription.topicFilter, subscription.group);
    }
  }

  remove(subscription: Subscription): void {
    if (subscription.group === undefined) {
      const current = this.index.get(subscription.topicFilter, subscription.session.clientId);
      if (current === subscription) {
        this.index.delete(subscription.topicFilter, subscription.session.clientId);
        this.plainCount--;
        this.listener?.routeRemoved(subscription.topicFilter, undefined);
      }
      return;
    }
    const key = sharedKey(subscription.group);
    const group = this.index.get(subscription.topicFilter, key) as SharedGroup | undefined;
    if (group === undefined) return;
    const at = group.members.indexOf(subscription);
    if (at < 0) return;
    group.members.splice(at, 1);
    this.sharedCount--;
    this.listener?.routeRemoved(subscription.topicFilter, subscription.group);
    if (group.members.length === 0) this.index.delete(subscription.topicFilter, key);
  }

  /** True when this router has members of the shared group (a cluster node letting a session go asks). */
  hasSharedMembers(group: string, topicFilter: string): boolean {
    return this.index.get(topicFilter, sharedKey(group)) !== undefined;
  }

  /**
   * Delivers the message to every matching session; returns how many sessions it went to. `except`
   * (cluster only) is a session that already has this message: a hand-over's re-forwarded copy came first.
   */
  publish(message: Message, now: number, scope?: RouteScope, except?: Session): number {
    const routes = this.index.match(message.topic);
    if (routes.length === 0) return 0;
    const plain = scope === undefined || scope.plain;
    const seq = ++this.routeSeq;
    const targets = this.targets;
    let shared: SharedGroup[] | undefined;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      if (route instanceof SharedGroup) {
        if (scope === undefined || scope.sharedAllowed(route)) (shared ??= []).push(route);
        continue;
      }
      if (!plain) continue;
      const session = route.session;
      if (route.noLocal && message.origin === session.clientId) continue; // [MQTT-3.8.3-3]
      if (session === except) continue;
      const qos = (route.qos < message.qos ? route.qos : message.qos) as QoS;
      const retain = route.retainAsPublished && message.retain; // [MQTT-3.3.1-12] / [MQTT-3.3.1-13]
      if (session.routeMark !== seq) {
        session.routeMark = seq;
        session.routeQos = qos;
        session.routeRetain = retain;
        session.routeSubscriptionIds = route.subscriptionId === undefined ? undefined : [route.subscriptionId];
        targets.push(session);
      } else {
        if (qos > session.routeQos) session.routeQos = qos;
        if (retain) session.routeRetain = true;
        if (route.subscriptionId !== undefined) (session.routeSubscriptionIds ??= []).push(route.subscriptionId);
      }
    }
    let delivered = 0;
    for (let i = 0; i < targets.count; i++) {
      const session = targets.get(i);
      if (!this.canReceive(session, message)) continue;
      session.deliver(message, session.routeQos, session.routeRetain, session.routeSubscriptionIds, now);
      delivered++;
    }
    targets.clear();
    if (shared !== undefined) {
      for (const group of shared) {
        const member = group.pick();
        if (member === undefined || member.session === except || !this.canReceive(member.session, message)) continue;
        const qos = (member.qos < message.qos ? member.qos : message.qos) as QoS;
        const ids = member.subscriptionId === undefined ? undefined : [member.subscriptionId];
        member.session.deliver(message, qos, member.retainAsPublished && message.retain, ids, now, group);
        delivered++;
      }
    }
    return delivered;
  }

  /**
   * Gives a shared-subscription message that a departed member never acknowledged to another
   * member of its group (MQTT 5.0 §4.8.2: the Server SHOULD). False when no other member takes it.
   */
  redeliverShared(group: SharedGroup, message: Message, now: number): boolean {
    const member = group.pick();
    if (member === undefined || !this.canReceive(member.session, message)) return false;
    const qos = (member.qos < message.qos ? member.qos : message.qos) as QoS;
    const ids = member.subscriptionId === undefined ? undefined : [member.subscriptionId];
    member.session.deliver(message, qos, member.retainAsPublished && message.retain, ids, now, group);
    return true;
  }
}
