// Records the broker's durable state in the store and rebuilds it on start. Exists only when the
// store is durable; with the memory store the broker has no Persistence and records nothing.
//
// What is recorded: retained messages; persistent sessions (Session Expiry Interval > 0: header,
// subscriptions, outgoing QoS 1/2 entries with packet ids and state, QoS 2 packet ids received);
// and the messages those outgoing entries refer to, one row per message whatever the number of
// sessions holding it (Message.storeRefs counts them). Clean sessions are never recorded.

import type { QoS } from '../protocol/packets.js';
import { parseSharedFilter } from '../protocol/validate.js';
import type { LoadedSession, Store, StoredMessage, StoredOutgoing, StoredSession, StoredSessionHeader, StoredSubscription } from '../store/port.js';
import { Message } from './message.js';
import { NEVER_EXPIRES, Session, type Outgoing, type SessionCounters, type SessionJournal, type SessionLimits, type Subscription } from './session.js';
import type { Router } from './router.js';
import type { RetainedMessages } from './retained.js';

/** What restore() needs from the broker to put sessions back. */
export interface RestoreTarget {
  readonly router: Router;
  readonly retained: RetainedMessages;
  readonly sessions: Map<string, Session>;
  readonly stats: SessionCounters;
  sessionLimits(receiveMaximum: number, maxPacketSize: number): SessionLimits;
  /** Ends the session after ms unless its client comes back. */
  scheduleExpiry(session: Session, ms: number): void;
}

export class Persistence implements SessionJournal {
  /** The broker's sessions (set by restore), read when the store writes a session again. */
  private sessions: ReadonlyMap<string, Session> | undefined;
  /** The messages recorded entries refer to, by id, read when the store writes one again (only for such a store). */
  private readonly storedMessages: Map<number, Message> | undefined;

  constructor(private readonly store: Store) {
    if (store.useOutgoingSource === undefined) return;
    const storedMessages = (this.storedMessages = new Map());
    store.useOutgoingSource({
      entries: (clientId) => this.recordedEntries(clientId),
      message: (id) => {
        const message = storedMessages.get(id);
        return message === undefined ? undefined : storedMessage(message);
      },
    });
  }

  /**
   * Something else an acknowledgement waits for besides the store (the cluster's hand-off of
   * messages to other nodes); set only in a cluster with a shared store.
   */
  barrier: (() => Promise<void> | undefined) | undefined = undefined;

  /** True when other brokers share the store (a cluster's Redis store): sessions are read one by one. */
  get shared(): boolean {
    return this.store.shared === true;
  }

  /** Resolves when every recorded change is durable; undefined when nothing is pending. */
  sync(): Promise<void> | undefined {
    const stored = this.store.sync();
    const barrier = this.barrier;
    if (barrier === undefined) return stored;
    const handedOff = barrier();
    if (handedOff === undefined) return stored;
    return stored === undefined ? handedOff : Promise.all([stored, handedOff]).then(() => undefined);
  }

  /**
   * Reads one session from a shared store and puts it back as a disconnected session (its client
   * is connecting, here or it was adopted from a dead node). Its messages get ids of this process:
   * each session keeps its own copy of them in the store, so ids never need to match another node's.
   * Returns the session, or undefined when the store has none (or it had expired).
   */
  async fetchSession(target: RestoreTarget, clientId: string): Promise<Session | undefined> {
    const loaded = await this.store.sessionLoad?.(clientId);
    return loaded === undefined ? undefined : this.install(target, loaded);
  }

  /** Reads one session from a shared store without putting it back (see install). */
  loadStored(clientId: string): Promise<LoadedSession | undefined> {
    return this.store.sessionLoad?.(clientId) ?? Promise.resolve(undefined);
  }

  /** Puts back a session read with loadStored, unless this broker has one by that client id already. */
  install(target: RestoreTarget, loaded: LoadedSession): Session | undefined {
    this.sessions ??= target.sessions;
    if (target.sessions.has(loaded.session.clientId)) return undefined;
    const messages = new Map<number, Message>();
    for (const stored of loaded.messages) messages.set(stored.id, toMessage(stored));
    const session = this.restoreSession(target, loaded.session, messages, Date.now());
    if (session === undefined) return undefined;
    // the store copies a message into each entry that refers to it: it is told about each one held
    for (const message of messages.values()) if (message.storeRefs > 0) this.messageRecorded(message);
    return session;
  }

  /** Forgets the stored session here without deleting it: another node takes it over (shared stores). */
  async handOver(session: Session): Promise<void> {
    const journal = session.journal;
    session.journal = undefined;
    // committed first: an entry recorded in this turn gets its message body from the store at the
    // commit, so the store must still hold the message then (else the entry arrives without it)
    await this.store.sessionRelease?.(session.clientId);
    if (journal === undefined) return;
    for (const entry of session.outgoing()) {
      if (!entry.stored) continue;
      entry.stored = false;
      this.release(entry.message);
    }
  }

  /**
   * Writes a recorded session to a shared store again, whole, from what this broker holds: the
   * store lost it (Redis restarted empty) or missed some of its changes (commits failed).
   */
  rewrite(session: Session): void {
    if (session.journal === undefined || this.store.sessionRewrite === undefined) return;
    const entries = session.outgoing().filter((entry) => entry.stored);
    const messages = new Map(entries.map((entry) => [entry.message.id, storedMessage(entry.message)]));
    this.store.sessionRewrite(
      {
        ...header(session),
        subscriptions: [...session.subscriptions.values()].map(storedSubscription),
        outgoing: entries.map(storedOutgoing),
        incomingQos2: [...session.incomingQos2],
      },
      [...messages.values()],
    );
  }

  /** Deletes a stored session this node does not hold (a clean start at this node). */
  deleteStored(clientId: string): void {
    this.store.sessionDelete(clientId);
  }

  retainedChanged(message: Message): void {
    // as Mosquitto: the $SYS tree describes this run of the broker, it is not kept
    if (message.topic.startsWith('$SYS/')) return;
    if (message.payload.length === 0) this.store.retainedDelete(message.topic);
    else this.store.retainedSet(storedMessage(message));
  }

  /** A retained message expired and left memory: the store forgets it too [MQTT-3.3.2-5]. */
  retainedExpired(message: Message): void {
    if (!message.topic.startsWith('$SYS/')) this.store.retainedDelete(message.topic);
  }

  /** A client connected to the session: it is recorded while its expiry interval is not 0. */
  sessionConnected(session: Session): void {
    if (session.expiryInterval === 0) {
      if (session.journal !== undefined) this.forget(session);
      return;
    }
    this.store.sessionSave(header(session));
    if (session.journal !== undefined) return;
    session.journal = this;
    for (const subscription of session.subscriptions.values()) this.store.subscriptionSet(session.clientId, storedSubscription(subscription));
    for (const entry of session.outgoing()) this.outgoingAdded(session, entry);
    for (const packetId of session.incomingQos2) this.store.incomingQos2Add(session.clientId, packetId);
  }

  /** Its connection left and the session waits: the time is recorded, for its expiry after a restart. */
  sessionDisconnected(session: Session): void {
    if (session.journal !== undefined) this.store.sessionSave(header(session));
  }

  /** The session ended or was replaced. */
  sessionDiscarded(session: Session): void {
    if (session.journal !== undefined) this.forget(session);
  }

  subscribed(session: Session, subscription: Subscription): void {
    if (session.journal !== undefined) this.store.subscriptionSet(session.clientId, storedSubscription(subscription));
  }

  unsubscribed(session: Session, filter: string): void {
    if (session.journal !== undefined) this.store.subscriptionDelete(session.clientId, filter);
  }

  outgoingAdded(session: Session, entry: Outgoing): void {
    const message = entry.message;
    if (message.storeRefs++ === 0) this.messageRecorded(message);
    entry.stored = true;
    this.store.outgoingAdd(session.clientId, storedOutgoing(entry));
  }

  outgoingChanged(session: Session, entry: Outgoing): void {
    this.store.outgoingUpdate(session.clientId, storedOutgoing(entry));
  }

  outgoingRemoved(session: Session, entry: Outgoing): void {
    entry.stored = false;
    this.store.outgoingDelete(session.clientId, entry.seq);
    this.release(entry.message);
  }

  incomingQos2Changed(session: Session, packetId: number, added: boolean): void {
    if (added) this.store.incomingQos2Add(session.clientId, packetId);
    else this.store.incomingQos2Delete(session.clientId, packetId);
  }

  /**
   * Rebuilds retained messages and sessions from the store. A session is offline after a restart;
   * its expiry counts from when it was disconnected (or from now if the broker stopped while it was
   * connected) [MQTT-4.1.0-1]. Expired retained messages and expired queued messages are dropped
   * [MQTT-3.3.2-5].
   */
  async restore(target: RestoreTarget): Promise<void> {
    this.sessions = target.sessions;
    const state = await this.store.load();
    const now = Date.now();
    // stored messages keep their ids (the outgoing rows refer to them); creating them first moves
    // the id counter past them, so no message made later in this process reuses one
    const messages = new Map<number, Message>();
    for (const stored of state.messages) messages.set(stored.id, toMessage(stored, stored.id));
    for (const stored of state.retained) {
      if (stored.expiresAt !== 0 && stored.expiresAt <= now) this.store.retainedDelete(stored.topic);
      else target.retained.update(toMessage(stored));
    }
    for (const stored of state.sessions) this.restoreSession(target, stored, messages, now);
    for (const message of messages.values()) {
      if (message.storeRefs === 0) this.store.messageDelete(message.id); // nobody holds it any more
      else this.storedMessages?.set(message.id, message);
    }
  }

  private restoreSession(target: RestoreTarget, stored: StoredSession, messages: Map<number, Message>, now: number): Session | undefined {
    const disconnectedAt = stored.disconnectedAt === 0 ? now : stored.disconnectedAt;
    const expiresIn = stored.expiryInterval === NEVER_EXPIRES ? Infinity : disconnectedAt + stored.expiryInterval * 1000 - now;
    if (expiresIn <= 0 || target.sessions.has(stored.clientId)) {
      this.store.sessionDelete(stored.clientId);
      return undefined;
    }
    const session = new Session(stored.clientId, stored.protocolVersion, target.sessionLimits(65535, Number.MAX_SAFE_INTEGER), target.stats);
    session.expiryInterval = stored.expiryInterval;
    session.disconnectedAt = disconnectedAt;
    for (const request of stored.subscriptions) {
      const shared = parseSharedFilter(request.filter);
      const subscription: Subscription = {
        filter: request.filter,
        topicFilter: shared?.filter ?? request.filter,
        group: shared?.group,
        qos: request.qos,
        noLocal: request.noLocal,
        retainAsPublished: request.retainAsPublished,
        retainHandling: request.retainHandling,
        subscriptionId: request.subscriptionId,
        session,
      };
      session.subscriptions.set(subscription.filter, subscription);
      target.router.add(subscription);
    }
    const entries: Outgoing[] = [];
    for (const row of stored.outgoing) {
      const message = messages.get(row.messageId);
      if (message === undefined || (message.isExpired(now) && row.state === 'queued')) {
        this.store.outgoingDelete(stored.clientId, row.seq);
        continue;
      }
      message.storeRefs++;
      const subscriptionIds = row.subscriptionIds === undefined ? undefined : [...row.subscriptionIds];
      entries.push({ message, qos: row.qos, retain: row.retain, subscriptionIds, group: undefined, packetId: row.packetId, state: row.state, seq: row.seq, stored: true });
    }
    session.restoreOutgoing(entries);
    for (const packetId of stored.incomingQos2) session.incomingQos2.add(packetId);
    session.journal = this;
    target.sessions.set(session.clientId, session);
    if (stored.disconnectedAt === 0) this.store.sessionSave(header(session));
    if (expiresIn !== Infinity) target.scheduleExpiry(session, expiresIn);
    return session;
  }

  /** Removes a session from the store; its live state stays (it may go on as a clean session). */
  private forget(session: Session): void {
    this.store.sessionDelete(session.clientId);
    for (const entry of session.outgoing()) {
      if (!entry.stored) continue;
      entry.stored = false;
      this.release(entry.message);
    }
    session.journal = undefined;
  }

  /** A message the first recorded entry refers to. */
  private messageRecorded(message: Message): void {
    this.storedMessages?.set(message.id, message);
    this.store.messageAdd(storedMessage(message));
  }

  private release(message: Message): void {
    if (--message.storeRefs !== 0) return;
    this.storedMessages?.delete(message.id);
    this.store.messageDelete(message.id);
  }

  /** A recorded session's entries as they stand, for the store (OutgoingSource). */
  private recordedEntries(clientId: string): StoredOutgoing[] {
    const session = this.sessions?.get(clientId);
    if (session === undefined || session.journal !== this) return [];
    const entries: StoredOutgoing[] = [];
    for (const entry of session.outgoing()) if (entry.stored) entries.push(storedOutgoing(entry));
    return entries;
  }
}

function header(session: Session): StoredSessionHeader {
  return { clientId: session.clientId, protocolVersion: session.version, expiryInterval: session.expiryInterval, disconnectedAt: session.disconnectedAt };
}

function storedSubscription(subscription: Subscription): StoredSubscription {
  return {
    filter: subscription.filter,
    qos: subscription.qos,
    noLocal: subscription.noLocal,
    retainAsPublished: subscription.retainAsPublished,
    retainHandling: subscription.retainHandling,
    subscriptionId: subscription.subscriptionId,
  };
}

function storedOutgoing(entry: Outgoing): StoredOutgoing {
  return { seq: entry.seq, messageId: entry.message.id, qos: entry.qos, retain: entry.retain, subscriptionIds: entry.subscriptionIds, packetId: entry.packetId, state: entry.state };
}

export function storedMessage(message: Message): StoredMessage {
  return {
    id: message.id,
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
    properties: message.properties,
    expiresAt: message.expiresAt,
    receivedAt: message.receivedAt,
    origin: message.origin,
    clusterId: message.clusterId,
  };
}

/** A message read back; retained ones get a fresh id (the retained table is keyed by topic). */
function toMessage(stored: StoredMessage, id?: number): Message {
  const message = new Message(stored.topic, stored.payload, stored.qos as QoS, stored.retain, stored.properties, stored.expiresAt, stored.origin, stored.receivedAt, id);
  message.clusterId = stored.clusterId;
  return message;
}
