// The store port: what the broker records so that sessions and retained messages outlive a restart.
// The broker keeps the live state in memory and tells the store about each change (a delta), as
// Mosquitto 2.1's persistence events do; a durable adapter batches the deltas and group-commits them.
// The store never routes.

import type { ProtocolVersion, QoS, Properties, SubscriptionRequest } from '../protocol/packets.js';

export interface StoredMessage {
  /** Unique id of the message within the store. */
  readonly id: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties?: Properties;
  /** Epoch milliseconds after which the message is dropped; 0 = never [MQTT-3.3.2-5]. */
  readonly expiresAt: number;
}

export interface StoredSubscription extends SubscriptionRequest {
  readonly subscriptionId?: number;
}

export interface StoredSession {
  readonly clientId: string;
  readonly protocolVersion: ProtocolVersion;
  /** Seconds the session outlives its connection; 0xFFFFFFFF = never expires. */
  readonly expiryInterval: number;
  /** Epoch ms when the session was last disconnected (0 while connected), to compute expiry on load. */
  readonly disconnectedAt: number;
  readonly subscriptions: readonly StoredSubscription[];
  /** Outgoing messages in order: in flight (with packet id and state) first, then queued. */
  readonly outgoing: readonly { messageId: number; qos: QoS; packetId: number; state: 'queued' | 'publish' | 'pubrel' }[];
  /** Packet ids of QoS 2 messages received and not yet released (PUBREC sent) [MQTT-4.3.3-3]. */
  readonly incomingQos2: readonly number[];
}

export interface StoredState {
  readonly sessions: readonly StoredSession[];
  readonly retained: readonly StoredMessage[];
  readonly messages: readonly StoredMessage[];
}

export interface Store {
  /** True when changes survive a restart; the broker skips recording deltas otherwise. */
  readonly durable: boolean;
  load(): Promise<StoredState>;
  retainedSet(message: StoredMessage): void;
  retainedDelete(topic: string): void;
  sessionSave(session: StoredSession): void;
  sessionDelete(clientId: string): void;
  messageAdd(message: StoredMessage): void;
  messageDelete(messageId: number): void;
  /**
   * Resolves once every change recorded so far is durable; undefined when nothing is pending.
   * The broker acknowledges a QoS 1/2 PUBLISH only after this (ack only when durable).
   */
  sync(): Promise<void> | undefined;
  close(): Promise<void>;
}
