// What one run of culex pub / sub / rr is asked to do: the typed result of parsing its flags,
// with Mosquitto's defaults already applied (see client-args.ts for the parsing).

import type { PropertyLists } from './client-properties.js';
import type { CompiledFormat } from './sub-format.js';

export type ClientCommand = 'pub' | 'sub' | 'rr';
export type QoS = 0 | 1 | 2;
/** CONNECT protocol level: 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0. */
export type MqttVersion = 3 | 4 | 5;

export type MessageSource =
  | { readonly kind: 'message'; readonly payload: Buffer }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stdin-line' }
  | { readonly kind: 'stdin-file' }
  | { readonly kind: 'null' };

export interface TlsSettings {
  readonly cafile?: string;
  readonly capath?: string;
  readonly certfile?: string;
  readonly keyfile?: string;
  readonly ciphers?: string;
  readonly alpn?: string;
  readonly version?: string;
  /** --insecure: skip the hostname check only, as libmosquitto does. */
  readonly insecure: boolean;
}

export interface WillSettings {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
}

/** Everything one run of a client needs, with Mosquitto's defaults filled in. */
export interface ClientOptions {
  readonly command: ClientCommand;
  readonly host: string;
  readonly port: number;
  readonly unixPath?: string;
  readonly bindAddress?: string;
  readonly noDelay: boolean;
  readonly protocolVersion: MqttVersion;
  /** '' sends an empty client id, which a v3.1.1/v5 broker accepts for a clean session. */
  readonly clientId: string;
  readonly keepalive: number;
  readonly cleanSession: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly will?: WillSettings;
  /** Undefined for plain TCP. */
  readonly tls?: TlsSettings;
  readonly debug: boolean;
  readonly quiet: boolean;
  readonly maxInflight: number;
  readonly qos: QoS;
  readonly retain: boolean;
  /** pub and rr: the publish topic. */
  readonly topic?: string;
  /** sub: the filters to subscribe to. */
  readonly topics: readonly string[];
  readonly source?: MessageSource;
  readonly repeatCount: number;
  readonly repeatDelayMs: number;
  readonly format?: CompiledFormat;
  readonly verbose: boolean;
  readonly eol: boolean;
  readonly pretty: boolean;
  /** -C: 0 for no limit. */
  readonly messageCount: number;
  readonly exitAfterSubscribe: boolean;
  readonly noRetained: boolean;
  readonly retainedOnly: boolean;
  readonly removeRetained: boolean;
  readonly retainAsPublished: boolean;
  readonly filterOuts: readonly string[];
  readonly unsubscribeTopics: readonly string[];
  /** --random-filter in tenths of a percent (10000 = print everything). */
  readonly randomFilter: number;
  /** -W in seconds; 0 for none. */
  readonly timeoutSeconds: number;
  readonly responseTopic?: string;
  readonly properties: PropertyLists;
}

export type ParseResult =
  | { readonly kind: 'run'; readonly options: ClientOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  /** `hint` adds "Use 'culex pub --help' to see usage."; `usage` prints the whole usage text. */
  | { readonly kind: 'error'; readonly message: string; readonly hint: boolean; readonly usage?: boolean };
