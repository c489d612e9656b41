// The bridge options of a mosquitto.conf (Mosquitto 2.0's conf.c): `connection NAME` starts a
// section and every bridge option after it belongs to that bridge. Values, defaults and error texts
// follow Mosquitto; the final checks (an address and a topic per bridge) name the `connection` line.

import { hostname } from 'node:os';
import type { SourceLocation, TlsVersion } from '../config/config.js';
import type { ProtocolVersion, QoS } from '../protocol/packets.js';
import { isValidPublishTopic, isValidTopicFilter } from '../cli/topic-filter.js';
import { bridgeDefaults, defaultNotificationTopic, type BridgeAddress, type BridgeConfig, type StartType } from './config.js';
import { EMPTY_MARKER, makeBridgeTopic, type BridgeDirection, type BridgeTopic } from './topic-map.js';

/** What the config reader gives for one line (see config/mosquitto-conf.ts). */
export interface OptionLine {
  readonly option: string;
  readonly location: SourceLocation;
  fail(message: string): never;
  string(): string;
  token(): string | undefined;
  requiredToken(): string;
  bool(): boolean;
  int(min: number, max: number): number;
}

/** Options only valid inside a `connection` section (`connection` itself included). */
export const bridgeOptionNames: ReadonlySet<string> = new Set([
  'connection', 'address', 'addresses', 'bridge_attempt_unsubscribe', 'bridge_bind_address', 'bridge_cafile',
  'bridge_capath', 'bridge_certfile', 'bridge_keyfile', 'bridge_insecure', 'bridge_max_packet_size',
  'bridge_outgoing_retain', 'bridge_protocol_version', 'bridge_require_ocsp', 'bridge_tls_version', 'bridge_alpn',
  'cleansession', 'local_cleansession', 'clientid', 'remote_clientid', 'local_clientid', 'idle_timeout',
  'keepalive_interval', 'local_password', 'local_username', 'password', 'remote_password', 'username',
  'remote_username', 'notifications', 'notifications_local_only', 'notification_topic', 'restart_timeout',
  'round_robin', 'start_type', 'threshold', 'topic', 'try_private', 'bridge_identity', 'bridge_psk',
]);

const protocolVersions: Readonly<Record<string, ProtocolVersion>> = { mqttv31: 3, mqttv311: 4, mqttv50: 5 };

export interface BridgeProblem {
  readonly message: string;
  readonly location: SourceLocation;
}

interface Draft {
  name: string;
  source: SourceLocation;
  addresses: BridgeAddress[];
  topics: BridgeTopic[];
  values: Map<string, string | number | boolean>;
  restartTimeout: { base: number; cap: number | undefined } | undefined;
}

export class BridgeOptionsReader {
  private readonly drafts: Draft[] = [];
  private current: Draft | undefined;

  constructor(private readonly notices: string[]) {}

  /** Applies one bridge option line; throws through line.fail on a bad value. */
  apply(line: OptionLine): void {
    if (line.option === 'connection') {
      const name = line.requiredToken();
      if (this.drafts.some((draft) => draft.name === name)) line.fail(`Duplicate bridge name "${name}".`);
      this.current = { name, source: line.location, addresses: [], topics: [], values: new Map(), restartTimeout: undefined };
      this.drafts.push(this.current);
      return;
    }
    const draft = this.current ?? line.fail('Invalid bridge configuration.');
    const option = line.option;
    switch (option) {
      case 'address':
      case 'addresses':
        if (draft.addresses.length > 0) line.fail(`Duplicate ${option} value in bridge configuration.`);
        for (let token = line.token(); token !== undefined && !token.startsWith('#'); token = line.token()) draft.addresses.push(parseAddress(line, token));
        if (draft.addresses.length === 0) line.fail(`Empty ${option} value in configuration.`);
        return;
      case 'topic':
        draft.topics.push(parseTopic(line));
        return;
      case 'restart_timeout': {
        let base = line.int(0, 2 ** 31 - 1);
        const capToken = line.token();
        if (base < 1) {
          this.notices.push('restart_timeout interval too low, using 1 second.');
          base = 1;
        }
        let cap: number | undefined;
        if (capToken !== undefined && !capToken.startsWith('#')) {
          cap = /^\d+$/.test(capToken) ? Number(capToken) : line.fail(`Invalid restart_timeout value (${capToken}).`);
          if (cap < base) line.fail('backoff cap is lower than the base in restart_timeout.');
        }
        draft.restartTimeout = { base, cap };
        return;
      }
      case 'keepalive_interval': {
        let seconds = line.int(0, 65535);
        if (seconds < 5) {
          this.notices.push('keepalive interval too low, using 5 seconds.');
          seconds = 5;
        }
        draft.values.set(option, seconds);
        return;
      }
      case 'idle_timeout':
      case 'threshold':
      case 'bridge_max_packet_size':
        draft.values.set(option, line.int(0, 2 ** 31 - 1));
        return;
      case 'bridge_attempt_unsubscribe':
      case 'bridge_insecure':
      case 'bridge_outgoing_retain':
      case 'cleansession':
      case 'local_cleansession':
      case 'notifications':
      case 'notifications_local_only':
      case 'round_robin':
      case 'try_private':
        draft.values.set(option, line.bool());
        return;
      case 'bridge_require_ocsp':
        if (line.bool()) line.fail('bridge_require_ocsp true is not supported by Culex.');
        return;
      case 'bridge_protocol_version': {
        const token = line.requiredToken();
        const version = protocolVersions[token] ?? line.fail(`Invalid bridge_protocol_version value (${token}).`);
        draft.values.set(option, version);
        return;
      }
      case 'bridge_tls_version': {
        const token = line.requiredToken();
        if (token !== 'tlsv1.3' && token !== 'tlsv1.2' && token !== 'tlsv1.1') line.fail(`Invalid bridge_tls_version value (${token}).`);
        draft.values.set(option, token);
        return;
      }
      case 'start_type': {
        const token = line.requiredToken();
        if (token !== 'automatic' && token !== 'lazy' && token !== 'once') line.fail(`Invalid start_type value in configuration (${token}).`);
        draft.values.set(option, token);
        return;
      }
      case 'bridge_psk': {
        const key = line.string();
        if (!/^([0-9a-fA-F]{2})+$/.test(key)) line.fail(`Invalid bridge_psk value (${key}): hexadecimal digits without 0x.`);
        draft.values.set(option, key);
        return;
      }
      case 'notification_topic': {
        const topic = line.string();
        if (!isValidPublishTopic(topic)) line.fail(`Invalid notification_topic value (${topic}).`);
        draft.values.set(option, topic);
        return;
      }
      default: {
        // string options, each once per bridge; the old names are kept as Mosquitto keeps them
        const key = option === 'clientid' ? 'remote_clientid' : option === 'username' ? 'remote_username' : option === 'password' ? 'remote_password' : option;
        if (draft.values.has(key)) line.fail(`Duplicate ${option} value in bridge configuration.`);
        draft.values.set(key, line.string());
      }
    }
  }

  /** Every bridge, defaults filled in; a problem for the first incomplete one. */
  result(): BridgeConfig[] | BridgeProblem {
    const bridges: BridgeConfig[] = [];
    for (const draft of this.drafts) {
      if (draft.addresses.length === 0) return { message: 'Invalid bridge configuration: no remote addresses defined.', location: draft.source };
      if (draft.topics.length === 0) return { message: 'Invalid bridge configuration: no topics defined.', location: draft.source };
      const v = draft.values;
      const str = (key: string): string | undefined => v.get(key) as string | undefined;
      const bool = (key: string, fallback: boolean): boolean => (v.get(key) as boolean | undefined) ?? fallback;
      const int = (key: string, fallback: number): number => (v.get(key) as number | undefined) ?? fallback;
      // Mosquitto 2.0 builds "<hostname>.<name>" (its manual says "name.hostname"; the code does the reverse)
      const remoteClientId = str('remote_clientid') ?? `${hostname()}.${draft.name}`;
      const cleanSession = bool('cleansession', bridgeDefaults.cleanSession);
      const cafile = str('bridge_cafile');
      const capath = str('bridge_capath');
      if ((str('bridge_certfile') === undefined) !== (str('bridge_keyfile') === undefined)) {
        return { message: 'Invalid bridge configuration: bridge_certfile and bridge_keyfile must be given together.', location: draft.source };
      }
      const identity = str('bridge_identity');
      const pskKey = str('bridge_psk');
      if ((identity === undefined) !== (pskKey === undefined)) {
        return { message: 'Invalid bridge configuration: bridge_identity and bridge_psk must be given together.', location: draft.source };
      }
      const psk = identity === undefined ? undefined : { identity, key: Buffer.from(pskKey!, 'hex') };
      if (psk !== undefined && (cafile !== undefined || capath !== undefined || str('bridge_certfile') !== undefined)) {
        // mosquitto.conf(5): only one of certificate and PSK based encryption on one bridge
        return { message: 'Invalid bridge configuration: certificate based TLS and PSK cannot be used on one bridge.', location: draft.source };
      }
      if (cafile === undefined && capath === undefined && psk === undefined && (str('bridge_certfile') !== undefined || v.has('bridge_insecure') || v.has('bridge_tls_version') || v.has('bridge_alpn'))) {
        return { message: 'Invalid bridge configuration: TLS options need bridge_cafile or bridge_capath.', location: draft.source };
      }
      bridges.push({
        name: draft.name,
        addresses: draft.addresses,
        roundRobin: bool('round_robin', bridgeDefaults.roundRobin),
        topics: draft.topics,
        protocolVersion: (v.get('bridge_protocol_version') as ProtocolVersion | undefined) ?? bridgeDefaults.protocolVersion,
        cleanSession,
        localCleanSession: bool('local_cleansession', cleanSession),
        localClientId: str('local_clientid') ?? `local.${remoteClientId}`,
        remoteClientId,
        remoteUsername: str('remote_username'),
        remotePassword: str('remote_password'),
        localUsername: str('local_username'),
        localPassword: str('local_password'),
        keepalive: int('keepalive_interval', bridgeDefaults.keepalive),
        restartTimeout: draft.restartTimeout ?? bridgeDefaults.restartTimeout,
        startType: (str('start_type') as StartType | undefined) ?? bridgeDefaults.startType,
        idleTimeout: int('idle_timeout', bridgeDefaults.idleTimeout),
        threshold: int('threshold', bridgeDefaults.threshold),
        notifications: bool('notifications', bridgeDefaults.notifications),
        notificationsLocalOnly: bool('notifications_local_only', bridgeDefaults.notificationsLocalOnly),
        notificationTopic: str('notification_topic') ?? defaultNotificationTopic(remoteClientId),
        tryPrivate: bool('try_private', bridgeDefaults.tryPrivate),
        attemptUnsubscribe: bool('bridge_attempt_unsubscribe', bridgeDefaults.attemptUnsubscribe),
        outgoingRetain: bool('bridge_outgoing_retain', bridgeDefaults.outgoingRetain),
        maxPacketSize: int('bridge_max_packet_size', bridgeDefaults.maxPacketSize),
        bindAddress: str('bridge_bind_address'),
        tls:
          cafile === undefined && capath === undefined && psk === undefined
            ? undefined
            : {
                cafile,
                capath,
                certfile: str('bridge_certfile'),
                keyfile: str('bridge_keyfile'),
                insecure: bool('bridge_insecure', false),
                version: (str('bridge_tls_version') as TlsVersion | undefined) ?? 'tlsv1.2',
                alpn: str('bridge_alpn'),
                psk,
              },
        source: draft.source,
      });
    }
    return bridges;
  }
}

/** host[:port]; an IPv6 address needs its port ("::1:1883"), as in Mosquitto. */
function parseAddress(line: OptionLine, token: string): BridgeAddress {
  const colon = token.lastIndexOf(':');
  if (colon < 0) return { host: token, port: 1883 };
  const host = token.slice(0, colon);
  const portText = token.slice(colon + 1);
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (host === '' || !(port >= 1 && port <= 65535)) line.fail(`Invalid bridge address (${token}).`);
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port };
}

/** topic PATTERN [in|out|both [QOS [LOCAL_PREFIX [REMOTE_PREFIX]]]], "" marking an empty field. */
function parseTopic(line: OptionLine): BridgeTopic {
  const rawPattern = line.requiredToken();
  const pattern = rawPattern === EMPTY_MARKER ? undefined : rawPattern;
  if (pattern !== undefined && !isValidTopicFilter(pattern)) line.fail(`Invalid bridge topic pattern '${pattern}'.`);
  let direction: BridgeDirection = 'out';
  let qos: QoS = bridgeDefaults.defaultTopicQos;
  let localPrefix: string | undefined;
  let remotePrefix: string | undefined;
  const directionToken = line.token();
  if (directionToken !== undefined && !directionToken.startsWith('#')) {
    const lower = directionToken.toLowerCase();
    if (lower !== 'in' && lower !== 'out' && lower !== 'both') line.fail(`Invalid bridge topic direction '${directionToken}'.`);
    direction = lower;
    const qosToken = line.token();
    if (qosToken !== undefined && !qosToken.startsWith('#')) {
      if (!/^[0-2]$/.test(qosToken)) line.fail(`Invalid bridge QoS level '${qosToken}'.`);
      qos = Number(qosToken) as QoS;
      const localToken = line.token();
      if (localToken !== undefined && !localToken.startsWith('#')) {
        localPrefix = prefix(line, localToken, 'local');
        const remoteToken = line.token();
        if (remoteToken !== undefined && !remoteToken.startsWith('#')) remotePrefix = prefix(line, remoteToken, 'remote');
      }
    }
  }
  const topic = makeBridgeTopic(pattern, direction, qos, localPrefix, remotePrefix);
  return typeof topic === 'string' ? line.fail(topic) : topic;
}

function prefix(line: OptionLine, token: string, side: 'local' | 'remote'): string | undefined {
  if (token === EMPTY_MARKER) return undefined;
  if (!isValidPublishTopic(token)) line.fail(`Invalid bridge topic ${side} prefix '${token}'.`);
  return token;
}
