// Replays a dead node's inbox into the sessions adopted from it (session-moves.ts): the QoS 1/2
// batches other nodes sent that node and it never stored go to those sessions only, once each and
// in order (docs/CLUSTER.md, "Sessions in Redis"):
//  - once: a message a session already holds, queued or in flight, is not added again. The dead
//    node may have stored it and died before its inbox copy was deleted (two transactions on a
//    Redis Cluster), or, for a node adopting its own previous sessions, it reached them live
//    meanwhile. A message is known by its cluster id (origin node and routing sequence), which the
//    Redis store keeps with each session entry [MQTT-4.3.3-10];
//  - in order: what reaches the adopted sessions live meanwhile (the dead node's routes moved to
//    this node) is newer, per publisher and topic, than what the inbox holds for them. Once the
//    last read is in, the replayed messages are put in front of the live ones [MQTT-4.6.0-5]. No
//    client is connected to an adopted session until the replay is over (a hand-over waits for
//    it), so none of these was sent yet.

import { Router, type SharedGroup } from '../broker/router.js';
import { clusterIdKey as idKey, type Message } from '../broker/message.js';
import type { Outgoing, Session } from '../broker/session.js';
import { FrameKind, decodeFrames, type MessageFrame } from './frame.js';
import { deliverToSession } from './hand-over-window.js';

export class InboxReplay {
  /** Fields of the batches read, for the inbox to lose them once their messages are stored. */
  readonly fields = new Set<string>();
  /** Frames targeted at sessions not adopted here (another node took them meanwhile): forwarded to them (session-moves.ts). */
  readonly elsewhere: MessageFrame[] = [];
  /** A router holding only the adopted sessions' subscriptions: the same matching, QoS, No Local and shared-group rules. */
  private readonly router: Router;
  /** Per session, the seq of its newest entry when adopted: entries made later came live or from the replay. */
  private readonly marks = new Map<Session, number>();
  /** Per session, the cluster ids of the messages it holds (taken again at each read, live ones included). */
  private readonly held = new Map<Session, Set<string>>();
  /** Messages this replay delivered, to tell them from the live ones. */
  private readonly replayed = new Set<Message>();
  /** The cluster id of the message being replayed (admit() reads it). */
  private current: string | undefined;

  constructor(private readonly sessions: readonly Session[]) {
    this.router = new Router((session) => this.admit(session));
    for (const session of sessions) {
      this.marks.set(session, session.lastSeq);
      for (const subscription of session.subscriptions.values()) this.router.add(subscription);
    }
  }

  /** Delivers the batches of one read of the inbox that an earlier read did not have. */
  read(batches: Record<string, Buffer>): void {
    const now = Date.now();
    this.takeHeld();
    // the scratch mark of the node's router (live routing since the last read) must not match this one's
    for (const session of this.sessions) session.routeMark = -1;
    const fields = Object.keys(batches)
      .filter((field) => !this.fields.has(field))
      .sort(byOriginThenSeq);
    for (const field of fields) {
      this.fields.add(field);
      decodeFrames(batches[field]!, (frame) => {
        if (frame.kind !== FrameKind.message || frame.message.isExpired(now)) return; // [MQTT-3.3.2-5]
        const message = frame.message;
        this.current = message.clusterId === undefined ? undefined : idKey(message.clusterId);
        this.replayed.add(message);
        const groups = frame.groups;
        if (frame.target !== undefined) {
          // re-forwarded during a hand-over to the dead node: for that one session only
          const session = this.sessions.find((s) => s.clientId === frame.target);
          if (session === undefined) this.elsewhere.push(frame);
          else if (this.admit(session)) deliverToSession(session, message, now, frame.plain, groups);
          return;
        }
        // one delivery per shared group: none when a member holds it already
        const sharedAllowed = (g: SharedGroup): boolean =>
          groups.some((ref) => ref.group === g.group && ref.topicFilter === g.topicFilter) && !g.members.some((member) => this.holds(member.session));
        this.router.publish(message, now, { plain: frame.plain, sharedAllowed });
      });
    }
    this.current = undefined;
    for (const session of this.sessions) session.routeMark = -1;
  }

  /**
   * After the last read: in each session, the replayed messages go in front of those that came
   * live since the adoption, and a message held twice (a live copy of one replayed or stored
   * before) keeps its first place only. Entries already in that order stay as they are.
   */
  finish(now: number): void {
    for (const session of this.sessions) {
      const mark = this.marks.get(session)!;
      const tail = session.queuedSince(mark);
      if (tail.length === 0) continue;
      const seen = heldIds(session, mark);
      const once = (entry: Outgoing): boolean => {
        const id = entry.message.clusterId;
        if (id === undefined) return true;
        const key = idKey(id);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      };
      const order = [...tail.filter((entry) => this.replayed.has(entry.message)), ...tail.filter((entry) => !this.replayed.has(entry.message))].filter(once);
      let same = 0;
      while (same < order.length && order[same] === tail[same]) same++;
      if (same === tail.length) continue;
      session.unqueue(tail.slice(same));
      for (const entry of order.slice(same)) session.deliver(entry.message, entry.qos, entry.retain, entry.subscriptionIds, now, entry.group);
    }
  }

  /** The ids every adopted session holds now, queued or in flight. */
  private takeHeld(): void {
    for (const session of this.sessions) this.held.set(session, heldIds(session, Infinity));
  }

  private holds(session: Session): boolean {
    return this.current !== undefined && this.held.get(session)?.has(this.current) === true;
  }

  /** The replay router's receive check: a session gets the message unless it holds it; it holds it from then on. */
  private admit(session: Session): boolean {
    if (this.current === undefined) return true;
    const ids = this.held.get(session);
    if (ids === undefined || ids.has(this.current)) return false;
    ids.add(this.current);
    return true;
  }
}

/** The cluster ids of the messages a session holds, queued or in flight, in its entries up to seq `upTo`. */
function heldIds(session: Session, upTo: number): Set<string> {
  const ids = new Set<string>();
  for (const entry of session.outgoing()) if (entry.seq <= upTo && entry.message.clusterId !== undefined) ids.add(idKey(entry.message.clusterId));
  return ids;
}

/** Inbox fields are "origin-node:seq": per origin in sequence order, so per-publisher order holds. */
function byOriginThenSeq(a: string, b: string): number {
  const i = a.lastIndexOf(':');
  const j = b.lastIndexOf(':');
  const origin = a.slice(0, i).localeCompare(b.slice(0, j));
  return origin !== 0 ? origin : Number(a.slice(i + 1)) - Number(b.slice(j + 1));
}
