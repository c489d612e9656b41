// Every broker setting in one typed object, with its default. Built from the config file or the API;
// nothing deeper in the broker reads the environment or a file.

import type { Authenticator, Authorizer, EnhancedAuthenticator } from '../auth/port.js';
import type { Store } from '../store/port.js';
import type { ControlHandler } from './control.js';
import type { Logger } from './logger.js';

export interface BrokerOptions {
  /** Seconds a socket may stay open without sending CONNECT. */
  connectTimeout: number;
  /** Largest packet accepted from a client, in bytes (whole packet); checked from the fixed header. */
  maxPacketSize: number;
  /** Largest PUBLISH payload accepted; larger ones are acknowledged and dropped, as Mosquitto does. 0 = no limit. */
  messageSizeLimit: number;
  /**
   * Outgoing QoS 1/2 messages in flight per client (Mosquitto's max_inflight_messages); 0 = 65535.
   * 1024 rather than Mosquitto's 20: a window of 20 is 2 ms of messages at 10,000 msg/s, less than a
   * garbage-collection pause, after which the queue behind it drains one round trip at a time
   * (fan-in 10 → 1 QoS 1 at 10,000 msg/s on this machine: p99 8.6–47 ms with 20, 3.6–6 ms with 1024).
   */
  maxInflightMessages: number;
  /** Queued outgoing QoS 1/2 messages per client beyond the in-flight window; 0 = unlimited. */
  maxQueuedMessages: number;
  /** Bytes queued per client; 0 = unlimited. */
  maxQueuedBytes: number;
  /** Bytes that may wait in a client's socket before QoS 0 messages to it are dropped. */
  maxSocketBacklog: number;
  /** Largest keepalive a client may ask for, in seconds; 0 = no limit. */
  maxKeepalive: number;
  /** Highest QoS the broker grants. */
  maxQos: 0 | 1 | 2;
  retainAvailable: boolean;
  /** Allow an empty client id (an id is then assigned) [MQTT-3.1.3-6]. */
  allowZeroLengthClientId: boolean;
  /** Prefix of assigned client ids, like Mosquitto's auto_id_prefix. */
  autoIdPrefix: string;
  /** Topic aliases accepted from each v5 client (advertised in CONNACK); 0 = none. */
  maxTopicAlias: number;
  /**
   * Use topic aliases toward v5 clients that accept them (CONNECT Topic Alias Maximum > 0): a topic
   * is sent once with an alias, then as the alias alone; least recently used aliases are reused.
   */
  topicAliasOut: boolean;
  /**
   * Receive Maximum advertised to v5 clients (incoming QoS 2 flows open at once per client, one
   * more is DISCONNECT 0x93). Advertised by default, as Mosquitto (20), EMQX and HiveMQ do, so that
   * clients honouring it stop in time; 1024 rather than Mosquitto's 20 keeps clients that ignore it
   * (MQTT.js 5 does) working through bursts and does not throttle honouring clients on slow links.
   */
  receiveMaximum: number;
  /** Subscriptions per client; 0 = unlimited. */
  maxSubscriptionsPerClient: number;
  /** Topic levels accepted in a topic or filter; 0 = unlimited. */
  maxTopicLevels: number;
  /** Seconds after which a disconnected v3 persistent session expires; 0 = never (Mosquitto's persistent_client_expiration). */
  persistentClientExpiration: number;
  /**
   * Prefix of the Response Information given to v5 clients that ask for it (Request Response
   * Information = 1); each client gets "<prefix>/<client id>". Empty = none is given.
   */
  responseInformationPrefix: string;
  /**
   * Redirect every v5 client elsewhere: CONNACK 0x9C Use another server (or 0x9D Server moved
   * when serverMoved) with this Server Reference. 3.1.1 clients get return code 3. Empty = off.
   */
  serverReference: string;
  serverMoved: boolean;
  authenticator: Authenticator;
  /**
   * MQTT 5.0 enhanced authentication methods (§4.12), by the Authentication Method a client names
   * on CONNECT; such a client is authenticated by its method instead of `authenticator`. An unknown
   * method gets CONNACK 0x8C. Default none.
   */
  enhancedAuthenticators: readonly EnhancedAuthenticator[];
  authorizer: Authorizer;
  /**
   * `$CONTROL/...` topics the broker serves itself (e.g. dynamic security's
   * `$CONTROL/dynamic-security/v1`): a PUBLISH there that the authorizer allows goes to the handler
   * and is acknowledged, not routed. Default none.
   */
  controlHandlers: readonly ControlHandler[];
  store: Store;
  logger: Logger;
}

export const brokerDefaults = {
  connectTimeout: 10,
  maxPacketSize: 268_435_460,
  messageSizeLimit: 0,
  maxInflightMessages: 1024,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 0,
  maxSocketBacklog: 4 * 1024 * 1024,
  maxKeepalive: 0,
  maxQos: 2,
  retainAvailable: true,
  allowZeroLengthClientId: true,
  autoIdPrefix: 'auto-',
  maxTopicAlias: 10,
  topicAliasOut: false,
  receiveMaximum: 1024,
  maxSubscriptionsPerClient: 0,
  maxTopicLevels: 0,
  persistentClientExpiration: 0,
  responseInformationPrefix: '',
  serverReference: '',
  serverMoved: false,
} as const satisfies Partial<BrokerOptions>;
