// One client's session: its subscriptions, its outgoing QoS 1/2 messages (in flight and queued),
// the QoS 2 packet ids it has sent us and not yet released, and its expiry. No routing, no sockets:
// it writes through the ClientLink of its current connection, or queues while there is none.

import type { ProtocolVersion, QoS, RetainHandling } from '../protocol/packets.js';
import { PacketIdAllocator } from './packet-ids.js';
import type { ClientLink } from './link.js';
import type { EncodedPublish } from '../protocol/writer.js';
import type { Message } from './message.js';
import type { SharedGroup } from './router.js';

/** Session Expiry Interval meaning "never expires" (0xFFFFFFFF, MQTT 5.0 §3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffffffff;

export interface Subscription {
  /** The filter as the client sent it, including any "$share/group/" prefix; the key in the session. */
  readonly filter: string;
  /** The filter matched against topics (without the shared prefix). */
  readonly topicFilter: string;
  /** Shared subscription group name, when the filter is "$share/{group}/{filter}". */
  readonly group: string | undefined;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: RetainHandling;
  readonly subscriptionId: number | undefined;
  readonly session: Session;
}

/** An outgoing message for this session: queued, or in flight with a packet id. */
export interface Outgoing {
  readonly message: Message;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIds: readonly number[] | undefined;
  /** The shared subscription group it came through, so another member can take it if this session ends (MQTT 5.0 §4.8.2). */
  readonly group: SharedGroup | undefined;
  packetId: number;
  /** queued: not sent yet; publish: sent, waiting for PUBACK/PUBREC; pubrel: PUBREL sent, waiting for PUBCOMP. */
  state: 'queued' | 'publish' | 'pubrel';
  /** Order within the session; the store's key for the entry. */
  readonly seq: number;
  /** Recorded in the durable store (then its changes and its removal are recorded too). */
  stored: boolean;
}

/**
 * Where a persistent session's changes are recorded (broker/persistence.ts); undefined for clean
 * sessions and when the store is not durable, so the hot path pays one comparison.
 */
export interface SessionJournal {
  outgoingAdded(session: Session, entry: Outgoing): void;
  outgoingChanged(session: Session, entry: Outgoing): void;
  outgoingRemoved(session: Session, entry: Outgoing): void;
  incomingQos2Changed(session: Session, packetId: number, added: boolean): void;
}

export interface SessionLimits {
  /** Most outgoing QoS 1/2 messages in flight: min(client's Receive Maximum, broker's max_inflight_messages). */
  inflight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  /** Socket backlog beyond which QoS 0 messages to this client are dropped. */
  maxSocketBacklog: number;
  /** Largest packet the client accepts (v5 Maximum Packet Size) [MQTT-3.1.2-24]. */
  maxPacketSize: number;
  /** Topic aliases the broker may use toward this client: its Topic Alias Maximum when topicAliasOut is on, else 0. */
  topicAliasMaximum: number;
}

export interface SessionCounters {
  /** Messages dropped because a queue or a socket backlog was full, or a packet too large. */
  dropped: number;
  /** PUBLISH packets sent to clients, and their payload bytes. */
  sent: number;
  publishBytesSent: number;
}

export class Session {
  // The three collections below are made on first use: an idle client that never subscribes or
  // receives QoS 1/2 costs none of them (an empty Map is about 150 bytes of heap, per connection).
  private subscriptionMap: Map<string, Subscription> | undefined;
  private inflightMap: Map<number, Outgoing> | undefined;
  private incomingQos2Set: Set<number> | undefined;

  get subscriptions(): Map<string, Subscription> {
    return (this.subscriptionMap ??= new Map());
  }
  /** Outgoing QoS 1/2 messages sent and not yet acknowledged, by packet id. */
  get inflight(): Map<number, Outgoing> {
    return (this.inflightMap ??= new Map());
  }
  /** QoS 2 packet ids received, PUBREC sent, PUBREL not yet received [MQTT-4.3.3-10]. */
  get incomingQos2(): Set<number> {
    return (this.incomingQos2Set ??= new Set());
  }
  /** How many messages are in flight, without making the collection. */
  get inflightCount(): number {
    return this.inflightMap?.size ?? 0;
  }
  private queue: Outgoing[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private readonly packetIds = new PacketIdAllocator();
  /** Outbound topic aliases on the current connection, least recently used first [MQTT-3.3.2-11]. */
  private topicAliases: Map<string, number> | undefined = undefined; // made on first use: most clients never use aliases
  private nextTopicAlias = 1;
  /** Sends a PUBREL for a QoS 2 message resent on this connection (set by attach). */
  private writePubrel: (packetId: number) => void = () => undefined;
  private outgoingSeq = 0;
  /** The current connection, or null while the client is away. */
  link: ClientLink | null = null;
  /** Set while the session is persistent and the store durable. */
  journal: SessionJournal | undefined = undefined;
  version: ProtocolVersion;
  limits: SessionLimits;
  expiryInterval = 0;
  /** Epoch ms of the last disconnection, 0 while connected. */
  disconnectedAt = 0;
  /** Set when the queue overflowed, so the "being dropped" line is logged once per episode. */
  droppingLogged = false;
  /** Scratch fields used by the router while merging overlapping subscriptions of one PUBLISH. */
  routeMark = 0;
  routeQos: QoS = 0;
  routeRetain = false;
  routeSubscriptionIds: number[] | undefined = undefined;

  constructor(
    readonly clientId: string,
    version: ProtocolVersion,
    limits: SessionLimits,
    private readonly counters: SessionCounters,
  ) {
    this.version = version;
    this.limits = limits;
  }

  /** Payload bytes of the messages queued and in flight for this client. */
  get storedBytes(): number {
    let bytes = this.queuedBytes;
    for (const entry of this.inflightMap?.values() ?? []) bytes += entry.message.payload.length;
    return bytes;
  }

  get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * Delivers a routed message at the QoS this session gets (min of published and granted).
   * QoS 0 goes out at once or is dropped for a congested or absent client; QoS 1/2 go in flight
   * while the window allows, and queue otherwise (bounded, newest dropped when full, as Mosquitto).
   */
  deliver(message: Message, qos: QoS, retain: boolean, subscriptionIds: readonly number[] | undefined, now: number, group?: SharedGroup): void {
    const link = this.link;
    if (qos === 0) {
      if (link === null || link.backlog > this.limits.maxSocketBacklog) {
        this.counters.dropped++;
        return;
      }
      const encoded = this.encode(message, 0, retain, subscriptionIds, now);
      if (encoded === undefined) {
        this.counters.dropped++; // [MQTT-3.1.2-25] too large for this client: discard for it
        return;
      }
      link.writePublish(encoded, 0, false);
      this.counters.sent++;
      this.counters.publishBytesSent += message.payload.length;
      return;
    }
    const entry: Outgoing = { message, qos, retain, subscriptionIds, group, packetId: 0, state: 'queued', seq: ++this.outgoingSeq, stored: false };
    if (link !== null && this.queuedCount === 0 && this.inflight.size < this.limits.inflight) {
      this.sendNew(entry, now);
      // recorded once, in its state after sending (unless it was discarded as too large)
      if (this.journal !== undefined && this.inflight.get(entry.packetId) === entry) this.journal.outgoingAdded(this, entry);
      return;
    }
    if (this.enqueue(entry) && this.journal !== undefined) this.journal.outgoingAdded(this, entry);
  }

  /** A QoS 2 PUBLISH from the client was accepted: its packet id is kept until PUBREL [MQTT-4.3.3-10]. */
  addIncomingQos2(packetId: number): void {
    if (this.incomingQos2.has(packetId)) return;
    this.incomingQos2.add(packetId);
    if (this.journal !== undefined) this.journal.incomingQos2Changed(this, packetId, true);
  }

  /** PUBREL from the client: forgets the packet id; false when it was not known. */
  releaseIncomingQos2(packetId: number): boolean {
    if (!this.incomingQos2.delete(packetId)) return false;
    if (this.journal !== undefined) this.journal.incomingQos2Changed(this, packetId, false);
    return true;
  }

  /** Keeps a message for later; false when the queue is full and the message was dropped. */
  enqueue(entry: Outgoing): boolean {
    const { maxQueuedMessages, maxQueuedBytes } = this.limits;
    const size = entry.message.payload.length;
    if ((maxQueuedMessages > 0 && this.queuedCount >= maxQueuedMessages) || (maxQueuedBytes > 0 && this.queuedBytes + size > maxQueuedBytes)) {
      this.counters.dropped++;
      return false;
    }
    this.queue.push(entry);
    this.queuedBytes += size;
    return true;
  }

  /** PUBACK from the client: the QoS 1 message is done [MQTT-4.3.2]. */
  acknowledge(packetId: number, now: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.qos !== 1) return false;
    this.release(entry);
    this.pump(now);
    return true;
  }

  /** PUBREC: the client has the QoS 2 message; answer PUBREL, or drop it on a failure code. */
  received(packetId: number, failed: boolean, now: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.qos !== 2 || entry.state !== 'publish') return false;
    if (failed) {
      // a PUBREC with a reason code >= 0x80 ends the QoS 2 flow (MQTT 5.0 §4.3.3)
      this.release(entry);
      this.pump(now);
      return true;
    }
    entry.state = 'pubrel';
    if (entry.stored) this.journal?.outgoingChanged(this, entry);
    return true;
  }

  /** PUBCOMP: the QoS 2 flow is complete. */
  completed(packetId: number, now: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.state !== 'pubrel') return false;
    this.release(entry);
    this.pump(now);
    return true;
  }

  /** A connection takes the session: resend what was in flight with DUP [MQTT-4.4.0-1], then the queue. */
  attach(link: ClientLink, version: ProtocolVersion, limits: SessionLimits, now: number, writePubrel: (packetId: number) => void): void {
    this.link = link;
    this.version = version;
    this.limits = limits;
    this.disconnectedAt = 0;
    this.droppingLogged = false;
    this.topicAliases = undefined; // aliases last only as long as the connection (MQTT 5.0 §3.3.2.3.4)
    this.nextTopicAlias = 1;
    this.writePubrel = writePubrel;
    // Resent with their packet ids [MQTT-4.4.0-1], but no more at once than the new window allows
    // [MQTT-3.3.4-9]: the client may come back with a smaller Receive Maximum than it had. The rest
    // go to the front of the queue, still in flight with their ids, and are resent as the window opens.
    let resent = 0;
    let held: Outgoing[] | undefined;
    for (const entry of this.inflightMap?.values() ?? []) {
      if (resent < limits.inflight) {
        resent++;
        this.resend(entry, now);
      } else (held ??= []).push(entry);
    }
    if (held !== undefined) {
      for (const entry of held) {
        this.inflight.delete(entry.packetId);
        this.queuedBytes += entry.message.payload.length;
      }
      this.queue = [...held, ...this.queue.slice(this.queueHead)];
      this.queueHead = 0;
    }
    this.pump(now);
  }

  detach(now: number): void {
    this.link = null;
    this.disconnectedAt = now;
  }

  /** Drops every outgoing message and QoS 2 state: the session is being discarded. */
  clearMessages(): void {
    this.inflightMap = undefined;
    this.incomingQos2Set = undefined;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.packetIds.reset();
  }

  /** Sends queued messages while the connection and the in-flight window allow. */
  pump(now: number): void {
    const link = this.link;
    if (link === null) return;
    while (this.queueHead < this.queue.length && this.inflight.size < this.limits.inflight) {
      const entry = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Outgoing;
      this.queuedBytes -= entry.message.payload.length;
      if (entry.state !== 'queued') {
        // held back by attach(): in flight already, so resent whatever its expiry
        this.inflight.set(entry.packetId, entry);
        this.resend(entry, now);
        continue;
      }
      if (entry.message.isExpired(now)) {
        if (entry.stored) this.journal?.outgoingRemoved(this, entry);
        continue; // [MQTT-3.3.2-5] expired while queued
      }
      this.sendNew(entry, now);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Outgoing messages in order (in flight, then queued), for the store and for tests. */
  outgoing(): Outgoing[] {
    return [...this.inflight.values(), ...this.queue.slice(this.queueHead)];
  }

  /** The seq of the newest outgoing entry so far: entries made later have greater ones. */
  get lastSeq(): number {
    return this.outgoingSeq;
  }

  /** The queued entries made after `seq` (a lastSeq read earlier), in queue order. */
  queuedSince(seq: number): Outgoing[] {
    const entries: Outgoing[] = [];
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const entry = this.queue[i]!;
      if (entry.seq > seq && entry.state === 'queued') entries.push(entry);
    }
    return entries;
  }

  /**
   * Takes these queued entries out of the queue, their removal recorded, so they can be delivered
   * again behind others (a cluster node puts the messages it replays from a dead node's inbox in
   * front of those that reached the adopted session live; cluster/inbox-replay.ts).
   */
  unqueue(entries: readonly Outgoing[]): void {
    const taken = new Set(entries);
    const kept: Outgoing[] = [];
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const entry = this.queue[i]!;
      if (!taken.has(entry)) kept.push(entry);
      else {
        this.queuedBytes -= entry.message.payload.length;
        if (entry.stored) this.journal?.outgoingRemoved(this, entry);
      }
    }
    this.queue = kept;
    this.queueHead = 0;
  }

  /**
   * Puts back outgoing messages read from the store, in order: in-flight ones keep their packet ids
   * (resent with DUP on reconnect [MQTT-4.4.0-1]), queued ones wait for the window.
   */
  restoreOutgoing(entries: readonly Outgoing[]): void {
    for (const entry of entries) {
      if (entry.seq > this.outgoingSeq) this.outgoingSeq = entry.seq;
      if (entry.state === 'queued') {
        this.queue.push(entry);
        this.queuedBytes += entry.message.payload.length;
      } else this.inflight.set(entry.packetId, entry);
    }
  }

  private sendNew(entry: Outgoing, now: number): void {
    entry.packetId = this.packetIds.next(this.inflight);
    entry.state = 'publish';
    this.inflight.set(entry.packetId, entry);
    if (entry.stored) this.journal?.outgoingChanged(this, entry);
    this.write(entry, false, now);
  }

  /** An in-flight message again, on a new connection: PUBLISH with DUP, or PUBREL once PUBREC came. */
  private resend(entry: Outgoing, now: number): void {
    if (entry.state === 'pubrel') this.writePubrel(entry.packetId);
    else this.write(entry, true, now);
  }

  private write(entry: Outgoing, dup: boolean, now: number): void {
    const encoded = this.encode(entry.message, entry.qos, entry.retain, entry.subscriptionIds, now);
    if (encoded === undefined) {
      this.release(entry); // [MQTT-3.1.2-25] discarded for this client, as if acknowledged
      this.counters.dropped++;
      return;
    }
    this.link!.writePublish(encoded, entry.packetId, dup);
    this.counters.sent++;
    this.counters.publishBytesSent += entry.message.payload.length;
  }

  /** The PUBLISH for this client, or undefined when it is over the client's Maximum Packet Size. */
  private encode(message: Message, qos: QoS, retain: boolean, subscriptionIds: readonly number[] | undefined, now: number): EncodedPublish | undefined {
    if (this.limits.topicAliasMaximum === 0) {
      const encoded = message.encode(this.version, qos, retain, subscriptionIds, now);
      return encoded.bytes.length > this.limits.maxPacketSize ? undefined : encoded;
    }
    // Slow path, only with topicAliasOut: the topic once with a new alias, then only the alias.
    const aliases = (this.topicAliases ??= new Map());
    const topic = message.topic;
    let alias = aliases.get(topic);
    const known = alias !== undefined;
    if (alias !== undefined) aliases.delete(topic);
    else if (this.nextTopicAlias <= this.limits.topicAliasMaximum) alias = this.nextTopicAlias++; // [MQTT-3.3.2-11]
    else {
      const [oldest, reused] = aliases.entries().next().value as [string, number];
      aliases.delete(oldest);
      alias = reused;
    }
    const encoded = message.encodeAliased(qos, retain, subscriptionIds, now, alias, !known);
    if (encoded.bytes.length > this.limits.maxPacketSize) return undefined; // not sent: the client does not learn the alias
    aliases.set(topic, alias);
    return encoded;
  }

  private release(entry: Outgoing): void {
    this.inflight.delete(entry.packetId);
    if (entry.stored) this.journal?.outgoingRemoved(this, entry);
  }
}

