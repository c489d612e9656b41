// The authentication and authorisation ports: the broker asks these, never a concrete file or plugin.
// A hook may answer synchronously (the default allow-all does, so the hot path makes no promise)
// or with a promise; a slow promise only holds up the client that waits for it.

import type { ConnectPacket, QoS } from '../protocol/packets.js';

export interface ClientIdentity {
  readonly clientId: string;
  readonly username: string | undefined;
  /** Remote address "ip:port", for logs and address-based rules. */
  readonly remoteAddress: string;
  /** Name of the listener the client came in on, e.g. "mqtt:1883". */
  readonly listener: string;
}

export interface AuthenticateRequest extends ClientIdentity {
  readonly password: Buffer | undefined;
  readonly connect: ConnectPacket;
}

/** 0 to accept, otherwise a v5 CONNACK reason code (mapped down for v3 clients). */
export type AuthenticateResult = { readonly reasonCode: number; readonly username?: string };

export interface Authenticator {
  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult>;
}

/** What an enhanced authentication method sees first: the CONNECT's (or the AUTH 0x19's) data. */
export interface EnhancedAuthRequest {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly authenticationData: Buffer | undefined;
}

/**
 * One step of an AUTH exchange (MQTT 5.0 §4.12): either the end (reasonCode 0 to accept, else a
 * failure code ≥ 0x80), or a challenge sent to the client in AUTH 0x18 with the state to continue from.
 */
export type AuthStep =
  | { readonly done: true; readonly reasonCode: number; readonly username?: string; readonly authenticationData?: Buffer }
  | { readonly done: false; readonly authenticationData: Buffer; readonly state: unknown };

/**
 * An authentication method named by the client's Authentication Method property (a SASL name such
 * as "SCRAM-SHA-256"). It replaces the password check for the clients that choose it, and answers
 * re-authentication (AUTH 0x19) the same way.
 */
export interface EnhancedAuthenticator {
  readonly method: string;
  start(request: EnhancedAuthRequest): AuthStep | Promise<AuthStep>;
  continue(state: unknown, authenticationData: Buffer | undefined): AuthStep | Promise<AuthStep>;
}

export interface Authorizer {
  /** May this client publish to topic? Checked once per inbound PUBLISH (and for its will). */
  canPublish(client: ClientIdentity, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean>;
  /** May this client subscribe to filter? Returns the granted QoS, or a v5 failure reason code (≥ 0x80). */
  canSubscribe(client: ClientIdentity, filter: string, qos: QoS): number | Promise<number>;
  /**
   * May this client remove its subscription to filter? When denied the subscription stays and a v5
   * client gets UNSUBACK 0x87 (Mosquitto 2.0 asks its plugins). Absent = always allowed.
   */
  canUnsubscribe?(client: ClientIdentity, filter: string): boolean;
  /** May this client receive a message on topic? Checked per delivery; must be synchronous (hot path). */
  canReceive(client: ClientIdentity, topic: string): boolean;
}

/** The default when no password file, ACL file or hook is configured: everyone may do everything. */
export const allowAll: Authenticator & Authorizer = {
  authenticate: () => ({ reasonCode: 0 }),
  canPublish: () => true,
  canSubscribe: (_client, _filter, qos) => qos,
  canReceive: () => true,
};
