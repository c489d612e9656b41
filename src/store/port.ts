// The store port: what the broker records so that sessions and retained messages outlive a restart.
// The broker keeps the live state in memory and tells the store about each change (a delta), as
// Mosquitto 2.1's persistence events do; a durable adapter batches the deltas and group-commits them.
// The store never routes, and knows nothing of the broker's classes: plain records in, plain
// records out, so a distributed store can implement the same interface.
//
// What a durable store holds:
//  - retained messages, one per topic (a copy of their own);
//  - persistent sessions (Session Expiry Interval > 0): a header, subscriptions, outgoing QoS 1/2
//    messages (queued and in flight) and the QoS 2 packet ids received and not yet released;
//  - messages referenced by outgoing entries: one copy per message, shared by every session that
//    holds it. The broker counts the references and calls messageAdd/messageDelete on 0→1 and 1→0.

import type { ProtocolVersion, QoS, Properties, SubscriptionRequest } from '../protocol/packets.js';

export interface StoredMessage {
  /** Unique id of the message within the store. */
  readonly id: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties?: Properties | undefined;
  /** Epoch milliseconds after which the message is dropped; 0 = never [MQTT-3.3.2-5]. */
  readonly expiresAt: number;
  /** Epoch milliseconds when the broker received it (for the remaining expiry it forwards). */
  readonly receivedAt: number;
  /** Client id of the publisher, for No Local after a restart; undefined for broker-made messages. */
  readonly origin?: string | undefined;
  /** In a cluster, for a message another node forwarded: the node that first routed it and its routing sequence. */
  readonly clusterId?: { readonly origin: string; readonly seq: number } | undefined;
}

export interface StoredSubscription extends SubscriptionRequest {
  readonly subscriptionId?: number | undefined;
}

/** What identifies a persistent session and decides when it expires. */
export interface StoredSessionHeader {
  readonly clientId: string;
  readonly protocolVersion: ProtocolVersion;
  /** Seconds the session outlives its connection; 0xFFFFFFFF = never expires. */
  readonly expiryInterval: number;
  /** Epoch ms when the session was last disconnected (0 while connected), to compute expiry on load. */
  readonly disconnectedAt: number;
}

/** One outgoing QoS 1/2 message of a session, keyed by (client id, seq). */
export interface StoredOutgoing {
  /** Order within the session; unique per session. */
  readonly seq: number;
  readonly messageId: number;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIds?: readonly number[] | undefined;
  /** 0 while queued. */
  readonly packetId: number;
  /** queued: not sent yet; publish: sent, waiting for PUBACK/PUBREC; pubrel: PUBREL sent [MQTT-4.3.3]. */
  readonly state: 'queued' | 'publish' | 'pubrel';
}

export interface StoredSession extends StoredSessionHeader {
  readonly subscriptions: readonly StoredSubscription[];
  /** Outgoing messages in seq order. */
  readonly outgoing: readonly StoredOutgoing[];
  /** Packet ids of QoS 2 messages received and not yet released (PUBREC sent) [MQTT-4.3.3-3]. */
  readonly incomingQos2: readonly number[];
}

export interface StoredState {
  readonly sessions: readonly StoredSession[];
  readonly retained: readonly StoredMessage[];
  /** Messages referenced by at least one session's outgoing entries. */
  readonly messages: readonly StoredMessage[];
}

/** One session read back on its own (Store.sessionLoad), with the messages its entries refer to. */
export interface LoadedSession {
  readonly session: StoredSession;
  readonly messages: readonly StoredMessage[];
}

/**
 * What the broker holds of its recorded sessions, for a store that writes them again rather than
 * keep its own copy (the SQLite store's outgoing log): the same records as the deltas carried.
 */
export interface OutgoingSource {
  /** The session's outgoing entries recorded in the store, as they stand. */
  entries(clientId: string): Iterable<StoredOutgoing>;
  /** A message some recorded entry refers to. */
  message(id: number): StoredMessage | undefined;
}

export interface Store {
  /** True when changes survive a restart; the broker records no deltas otherwise. */
  readonly durable: boolean;
  /**
   * True when several brokers share the store (the Redis store of a cluster): load() returns no
   * sessions, each is read with sessionLoad when its client connects, and a broker that hands a
   * session to another node stops recording it with sessionRelease instead of deleting it.
   */
  readonly shared?: boolean;
  /** Gives the store the broker's recorded sessions to read back from (before load). */
  useOutgoingSource?(source: OutgoingSource): void;
  /** Everything recorded before; called once, before any delta. */
  load(): Promise<StoredState>;
  /** Reads one session (shared stores); undefined when the store has none for this client id. */
  sessionLoad?(clientId: string): Promise<LoadedSession | undefined>;
  /** Commits what is pending for the session and forgets it here, keeping it in the store (shared stores). */
  sessionRelease?(clientId: string): Promise<void>;
  /**
   * Writes a whole session again, replacing what the store has of it (shared stores: the cluster
   * puts back a session its node holds when Redis lost it or missed some of its changes).
   */
  sessionRewrite?(session: StoredSession, messages: readonly StoredMessage[]): void;
  retainedSet(message: StoredMessage): void;
  retainedDelete(topic: string): void;
  /** Creates or updates a session's header. */
  sessionSave(session: StoredSessionHeader): void;
  /** Deletes a session with its subscriptions, outgoing entries and QoS 2 receive state. */
  sessionDelete(clientId: string): void;
  subscriptionSet(clientId: string, subscription: StoredSubscription): void;
  subscriptionDelete(clientId: string, filter: string): void;
  messageAdd(message: StoredMessage): void;
  messageDelete(messageId: number): void;
  /** A new outgoing entry. An adapter may drop an add and its delete that fall into one commit. */
  outgoingAdd(clientId: string, entry: StoredOutgoing): void;
  /** An outgoing entry's state or packet id changed. */
  outgoingUpdate(clientId: string, entry: StoredOutgoing): void;
  outgoingDelete(clientId: string, seq: number): void;
  incomingQos2Add(clientId: string, packetId: number): void;
  incomingQos2Delete(clientId: string, packetId: number): void;
  /**
   * Resolves once every change recorded so far is durable; undefined when nothing is pending.
   * The broker acknowledges a QoS 1/2 PUBLISH only after this (ack only when durable).
   */
  sync(): Promise<void> | undefined;
  /** Commits what is pending and releases the store. */
  close(): Promise<void>;
}
