// One bridge connection as a mosquitto.conf `connection` section describes it, with Mosquitto's
// defaults (mosquitto.conf(5), "Configuring Bridges"). The reader is bridge-options.ts; the
// running bridge is bridge.ts.

import type { SourceLocation, TlsVersion } from '../config/config.js';
import type { ProtocolVersion, QoS } from '../protocol/packets.js';
import type { BridgeTopic } from './topic-map.js';

export interface BridgeAddress {
  readonly host: string;
  readonly port: number;
}

export type StartType = 'automatic' | 'lazy' | 'once';

export interface BridgeTls {
  readonly cafile: string | undefined;
  readonly capath: string | undefined;
  readonly certfile: string | undefined;
  readonly keyfile: string | undefined;
  /** true: the remote's certificate chain is checked but not its host name. */
  readonly insecure: boolean;
  /** Lowest TLS version offered; Mosquitto's default is TLS 1.2. */
  readonly version: TlsVersion;
  readonly alpn: string | undefined;
  /** TLS-PSK instead of certificates (bridge_identity, bridge_psk); TLS 1.2 PSK cipher suites. */
  readonly psk: { readonly identity: string; readonly key: Buffer } | undefined;
}

export interface BridgeConfig {
  readonly name: string;
  readonly addresses: readonly BridgeAddress[];
  readonly roundRobin: boolean;
  readonly topics: readonly BridgeTopic[];
  readonly protocolVersion: ProtocolVersion;
  /** Clean session on the remote broker (default false: the remote keeps our subscriptions). */
  readonly cleanSession: boolean;
  /** Clean session of the local side; default = cleanSession. true: nothing is queued while the remote is down. */
  readonly localCleanSession: boolean;
  readonly localClientId: string;
  readonly remoteClientId: string;
  readonly remoteUsername: string | undefined;
  readonly remotePassword: string | undefined;
  readonly localUsername: string | undefined;
  readonly localPassword: string | undefined;
  /** Seconds; at least 5. */
  readonly keepalive: number;
  /** Seconds before reconnecting: constant, or Decorrelated Jitter from base up to cap. */
  readonly restartTimeout: { readonly base: number; readonly cap: number | undefined };
  readonly startType: StartType;
  /** Seconds a lazy bridge may be idle before it disconnects. */
  readonly idleTimeout: number;
  /** Messages queued before a lazy bridge connects. */
  readonly threshold: number;
  readonly notifications: boolean;
  readonly notificationsLocalOnly: boolean;
  readonly notificationTopic: string;
  /** Announce the bridge to the remote (bit 7 of the protocol level on 3.1/3.1.1). */
  readonly tryPrivate: boolean;
  readonly attemptUnsubscribe: boolean;
  /** false: the retain flag is cleared on everything sent to the remote. */
  readonly outgoingRetain: boolean;
  /** Largest PUBLISH sent to the remote, in bytes; 0 = no limit. */
  readonly maxPacketSize: number;
  readonly bindAddress: string | undefined;
  /** Set when bridge_cafile, bridge_capath or bridge_identity/bridge_psk is given. */
  readonly tls: BridgeTls | undefined;
  readonly source: SourceLocation;
}

export const bridgeDefaults = {
  protocolVersion: 4 as ProtocolVersion,
  cleanSession: false,
  keepalive: 60,
  restartTimeout: { base: 5, cap: 30 },
  startType: 'automatic' as StartType,
  idleTimeout: 60,
  threshold: 10,
  notifications: true,
  notificationsLocalOnly: false,
  tryPrivate: true,
  attemptUnsubscribe: true,
  outgoingRetain: true,
  maxPacketSize: 0,
  roundRobin: false,
  defaultTopicQos: 0 as QoS,
} as const;

/** Mosquitto's notification topic when notification_topic is not set. */
export function defaultNotificationTopic(remoteClientId: string): string {
  return `$SYS/broker/connection/${remoteClientId}/state`;
}
