// The typed result of reading a mosquitto.conf: global settings and the listeners, each value
// already checked. assemble.ts turns it into broker options and open sockets.

import type { LogType } from '../broker/logger.js';
import type { BridgeConfig } from '../bridge/config.js';

/** Where a setting came from, for error messages ("Error found at FILE:LINE."). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

export type TlsVersion = 'tlsv1.3' | 'tlsv1.2' | 'tlsv1.1';

/**
 * Security settings of one scope: the whole broker, or one listener when per_listener_settings is
 * true (Mosquitto's mosquitto__security_options).
 */
export interface SecurityConfig {
  /** undefined = the default (false once a listener is configured). */
  allowAnonymous: boolean | undefined;
  passwordFile: string | undefined;
  aclFile: string | undefined;
  /** `plugin …mosquitto_dynamic_security.so` (or `plugin dynamic-security`) was given. */
  dynsecPlugin: boolean;
  /** Its plugin_opt_config_file. */
  dynsecFile: string | undefined;
}

export interface ListenerConfig {
  port: number;
  /** Bind address; undefined = every interface (IPv4 and IPv6). */
  address: string | undefined;
  protocol: 'mqtt' | 'websockets';
  /** Restricts an address-less listener to one IP family. */
  socketDomain: 'ipv4' | 'ipv6' | undefined;
  /** Both set = TLS (mqtts, or wss for websockets). */
  certfile: string | undefined;
  keyfile: string | undefined;
  /** CA for client certificates. */
  cafile: string | undefined;
  capath: string | undefined;
  requireCertificate: boolean;
  useIdentityAsUsername: boolean;
  useSubjectAsUsername: boolean;
  /** The lowest TLS version accepted. */
  tlsVersion: TlsVersion | undefined;
  ciphers: string | undefined;
  /** -1 = unlimited. */
  maxConnections: number;
  /** This listener's own security settings; used when per_listener_settings is true. */
  readonly security: SecurityConfig;
  readonly source: SourceLocation;
}

export type LogDestination =
  | { readonly kind: 'stdout' }
  | { readonly kind: 'stderr' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'syslog' }
  | { readonly kind: 'topic' }
  | { readonly kind: 'none' };

/** Culex-only metrics_listener: the HTTP admin endpoint (/metrics, /healthz). */
export interface MetricsListenerConfig {
  readonly port: number;
  /** Default 127.0.0.1: the figures are for the operator, not the network. */
  readonly address: string;
  readonly source: SourceLocation;
}

/** The broker limits a config file can set; unset ones keep brokerDefaults. */
export interface ConfiguredLimits {
  maxInflightMessages?: number;
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
  maxKeepalive?: number;
  maxPacketSize?: number;
  messageSizeLimit?: number;
  maxQos?: 0 | 1 | 2;
  maxTopicAlias?: number;
  /** Culex-only topic_alias_out. */
  topicAliasOut?: boolean;
  /** Culex-only receive_maximum. */
  receiveMaximum?: number;
  /** Culex-only max_topic_levels. */
  maxTopicLevels?: number;
  /** Culex-only max_subscriptions_per_client. */
  maxSubscriptionsPerClient?: number;
  retainAvailable?: boolean;
  allowZeroLengthClientId?: boolean;
  autoIdPrefix?: string;
  persistentClientExpiration?: number;
}

export interface CulexConfig {
  /** The main file, as given. */
  readonly file: string;
  readonly listeners: ListenerConfig[];
  /** No listener configured: Mosquitto 2's local-only mode on 127.0.0.1 and ::1 port 1883. */
  readonly localOnly: boolean;
  /** Mosquitto 2: false as soon as a listener is configured, true in local-only mode. */
  readonly allowAnonymous: boolean;
  readonly passwordFile: string | undefined;
  readonly aclFile: string | undefined;
  /** Culex-only acl_deny_subscribe: refuse a SUBSCRIBE whose filter the ACL file never lets the client read. */
  readonly aclDenySubscribe: boolean;
  readonly perListenerSettings: boolean;
  /** The dynamic-security JSON file when the plugin is configured globally (per_listener_settings false). */
  readonly dynsecFile: string | undefined;
  readonly limits: ConfiguredLimits;
  readonly log: {
    readonly destinations: readonly LogDestination[];
    /** undefined = Mosquitto's default (error, warning, notice, information). */
    readonly types: readonly LogType[] | undefined;
    readonly timestamp: boolean;
    /** log_timestamp_format: a strftime format (local time) instead of epoch seconds. */
    readonly timestampFormat: string | undefined;
    readonly connectionMessages: boolean;
    /** syslog facility number for log_dest syslog: 3 (daemon) unless log_facility N gives local N (16 + N). */
    readonly facility: number;
  };
  /** Culex-only; undefined = no HTTP admin endpoint (the default). */
  readonly metricsListener: MetricsListenerConfig | undefined;
  readonly pidFile: string | undefined;
  /** Culex-only `cluster URL`: join the cluster of nodes sharing this Redis (docs/CLUSTER.md). */
  readonly cluster: string | undefined;
  /** Culex-only `cluster_node_id`: this node's id in the cluster; default host name and port. */
  readonly clusterNodeId: string | undefined;
  /** Seconds between $SYS updates; 0 = off. */
  readonly sysInterval: number;
  /** Keep retained messages, persistent sessions and their queues in an SQLite file (see store/sqlite.ts). */
  readonly persistence: boolean;
  /** Directory of the persistence file; undefined = the working directory, as Mosquitto. */
  readonly persistenceLocation: string | undefined;
  /** File name inside persistenceLocation; undefined = culex.db. */
  readonly persistenceFile: string | undefined;
  /** Accepted for Mosquitto compatibility, with a notice: Culex commits every change at once. */
  readonly autosaveInterval: number;
  readonly setTcpNodelay: boolean;
  readonly user: string | undefined;
  /** Notices to log at start-up (e.g. about `user`). */
  readonly notices: readonly string[];
  /** The `connection` sections: bridges to other brokers. */
  readonly bridges: readonly BridgeConfig[];
}
