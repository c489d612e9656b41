// Turns a checked configuration into a running broker: broker options, the auth ports and the
// listeners. The one place that imports concrete adapters (password file, ACL file, TCP, TLS,
// WebSocket, log files); everything else sees only the ports.

import { unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createBroker, type Culex } from '../index.js';
import type { Authenticator, Authorizer } from '../auth/port.js';
import { PasswordFile } from '../auth/password-file.js';
import { AclFile } from '../auth/acl-file.js';
import type { Logger } from '../broker/logger.js';
import { DestinationLogger, StreamSink, allLogTypes, defaultLogTypes, epochSeconds, noStamp, type LogSink, type Stamper } from '../observability/log.js';
import { strftime } from '../cli/strftime.js';
import { FileSink } from '../observability/log-file.js';
import { SyslogSink } from '../observability/syslog.js';
import { TopicSink } from '../observability/log-topic.js';
import { SysTopics } from '../observability/sys-topics.js';
import { startMetricsServer, type MetricsServer } from '../observability/metrics.js';
import { version } from '../cli/version.js';
import { composeSecurity, PerListenerSecurity } from '../auth/composed.js';
import { DynamicSecurity } from '../auth/dynsec/dynamic-security.js';
import { DynsecFileError } from '../auth/dynsec/file.js';
import type { ControlHandler, ControlRequest } from '../broker/control.js';
import { listenTcp, type Listener } from '../transport/tcp.js';
import { listenTls, type SecureListener, type TlsSettings } from '../transport/tls.js';
import { listenWebSocket } from '../transport/websocket.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/port.js';
import type { CulexConfig, ListenerConfig, LogDestination, SecurityConfig } from './config.js';
import { Bridges } from '../bridge/bridges.js';
import { bridgeMetrics, bridgeSysTopics } from '../bridge/bridge-figures.js';

/** Culex's persistence file name when persistence_file is not set (Mosquitto's is mosquitto.db). */
export const defaultPersistenceFile = 'culex.db';

export interface AssembleOverrides {
  /** -v: every log type. */
  readonly verbose?: boolean;
  /** -p ports; used only when the configuration defines no listener (as mosquitto -p). */
  readonly ports?: readonly number[];
  /** --host for the -p ports (Culex's addition); without it -p binds loopback only. */
  readonly host?: string | undefined;
  /** A logger to use instead of the configured destinations (tests). */
  readonly logger?: Logger;
  /** --cluster URL, over the configuration's `cluster`. */
  readonly cluster?: string | undefined;
  /** --node-id, over the configuration's `cluster_node_id`. */
  readonly nodeId?: string | undefined;
  /** --cluster-heartbeat, in milliseconds. */
  readonly heartbeatMs?: number | undefined;
  /** --cluster-retained-sweep, in milliseconds. */
  readonly retainedSweepMs?: number | undefined;
  /** --persistence-location DIR: persistence on, in this directory (overrides the file's settings). */
  readonly persistenceLocation?: string | undefined;
}

export interface AssembledBroker {
  readonly culex: Culex;
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  /** The HTTP admin endpoint, when metrics_listener is configured. */
  readonly metrics: MetricsServer | undefined;
  /** The `connection` sections, running (bridges are not reloaded on SIGHUP, as in Mosquitto). */
  readonly bridges: Bridges;
  /** SIGHUP: certificates, password file and ACL file are read again, log files reopened; connections stay. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

interface Reloadable {
  reload(): Promise<void>;
}

/** The log a configuration describes: its destinations, filtered by log_type. */
export function configuredLogger(config: CulexConfig, verbose = false): DestinationLogger {
  const types = verbose ? allLogTypes : (config.log.types ?? defaultLogTypes);
  const format = config.log.timestampFormat;
  const stamp: Stamper = !config.log.timestamp ? noStamp : format === undefined ? epochSeconds : (now) => strftime(format, now);
  const sink = (destination: LogDestination): LogSink | undefined => {
    switch (destination.kind) {
      case 'stdout':
        return new StreamSink(process.stdout);
      case 'stderr':
        return new StreamSink(process.stderr);
      case 'file':
        return new FileSink(destination.path);
      case 'syslog':
        return new SyslogSink({ facility: config.log.facility, tag: 'culex' });
      case 'topic':
        return new TopicSink();
      case 'none':
        return undefined;
    }
  };
  const sinks = config.log.destinations.flatMap((destination) => sink(destination) ?? []);
  return new DestinationLogger(types, sinks, config.log.connectionMessages, stamp);
}

function tlsSettings(listener: ListenerConfig): TlsSettings | undefined {
  if (listener.certfile === undefined || listener.keyfile === undefined) return undefined;
  const minVersion = { 'tlsv1.3': 'TLSv1.3', 'tlsv1.2': 'TLSv1.2', 'tlsv1.1': 'TLSv1.1' } as const;
  return {
    certfile: listener.certfile,
    keyfile: listener.keyfile,
    cafile: listener.cafile,
    capath: listener.capath,
    requireCertificate: listener.requireCertificate,
    // use_identity_as_username takes priority over use_subject_as_username, as in Mosquitto
    identityAsUsername: listener.useIdentityAsUsername ? 'cn' : listener.useSubjectAsUsername ? 'subject' : undefined,
    minVersion: listener.tlsVersion === undefined ? 'TLSv1.2' : minVersion[listener.tlsVersion],
    ciphers: listener.ciphers,
  };
}

function bindAddress(listener: ListenerConfig): string | undefined {
  if (listener.address !== undefined) return listener.address;
  if (listener.socketDomain === 'ipv4') return '0.0.0.0';
  if (listener.socketDomain === 'ipv6') return '::';
  return undefined; // Node binds [::] dual-stack: every IPv4 and IPv6 interface
}

async function openListener(culex: Culex, listener: ListenerConfig, logger: Logger, name: string): Promise<Listener> {
  const host = bindAddress(listener);
  const tls = tlsSettings(listener);
  const base = { port: listener.port, host, maxConnections: listener.maxConnections, name };
  let opened: Listener;
  if (listener.protocol === 'websockets') opened = await listenWebSocket(culex.broker, { ...base, tls });
  else if (tls !== undefined) opened = await listenTls(culex.broker, base, tls);
  else opened = await listenTcp(culex.broker, base);
  logger.log('notice', `Opening ${listener.protocol === 'websockets' ? 'websockets' : 'ipv4/ipv6'} listen socket on ${host ?? 'every interface'} port ${opened.port}${tls ? ' (TLS)' : ''}.`);
  return opened;
}

/** Builds the broker a configuration describes and opens its listeners; throws on a start-up failure. */
export async function assemble(config: CulexConfig, overrides: AssembleOverrides = {}): Promise<AssembledBroker> {
  const logger = overrides.logger ?? configuredLogger(config, overrides.verbose);
  for (const notice of config.notices) logger.log('notice', notice);

  const reloadables: Reloadable[] = [];
  const names = listenerNames(config.listeners);
  const { authenticator, authorizer, controlHandlers, dynsec } = await loadSecurity(config, names, logger, reloadables);
  const passwordFiles = reloadables.filter((reloadable) => reloadable instanceof PasswordFile).length;
  const reauthenticateOnReload = passwordFiles > 0 || !config.allowAnonymous;

  const store = await openStore(config, overrides, logger);
  const culex = createBroker({ ...config.limits, authenticator, authorizer, controlHandlers, logger, ...(store === undefined ? {} : { store }) });
  const destinations = logger instanceof DestinationLogger ? logger : undefined;
  for (const sink of destinations?.sinks ?? []) if (sink instanceof TopicSink) sink.attach(culex.broker);
  const bridges = new Bridges(culex.broker, config.bridges);
  const sys = new SysTopics(culex.broker, { interval: config.sysInterval, version: `culex version ${version()}`, extra: () => bridgeSysTopics(bridges.status()) });
  const listeners: Listener[] = [];
  let metrics: MetricsServer | undefined;
  const closeAll = async (): Promise<void> => {
    await bridges.stop();
    sys.stop();
    const closing = listeners.map((listener) => listener.close());
    if (metrics !== undefined) closing.push(metrics.close());
    await culex.close();
    await Promise.all(closing);
  };
  try {
    await culex.ready(); // persisted sessions and retained messages are back before anyone connects
    await joinCluster(culex, config, overrides, logger, dynsec);
    if (config.localOnly) await openDefaultListeners(culex, overrides, listeners, logger);
    else {
      if (overrides.ports !== undefined && overrides.ports.length > 0) logger.log('warning', 'Warning: -p is ignored because the configuration file defines listeners.');
      for (const [index, listener] of config.listeners.entries()) listeners.push(await openListener(culex, listener, logger, names[index]!));
    }
    if (config.metricsListener !== undefined) {
      metrics = await startMetricsServer(culex.broker, { port: config.metricsListener.port, host: config.metricsListener.address, extra: () => bridgeMetrics(bridges.status()) });
      logger.log('notice', `Opening metrics listener (HTTP /metrics, /healthz) on ${metrics.address} port ${metrics.port}.`);
    }
    sys.start();
  } catch (error) {
    await closeAll();
    throw error;
  }

  bridges.start();
  if (config.pidFile !== undefined) writeFileSync(config.pidFile, `${process.pid}\n`);
  return {
    culex,
    listeners,
    logger,
    metrics,
    bridges,
    async reload() {
      destinations?.reopen();
      for (const listener of listeners) {
        if ('reloadCertificates' in listener) (listener as SecureListener).reloadCertificates();
      }
      for (const reloadable of reloadables) await reloadable.reload();
      // As Mosquitto: clients whose credentials the reloaded password file no longer accepts are disconnected.
      if (reauthenticateOnReload) await culex.broker.reauthenticate();
    },
    async close() {
      await closeAll();
      destinations?.close();
      if (config.pidFile !== undefined) {
        try {
          unlinkSync(config.pidFile);
        } catch {
          // already gone
        }
      }
    },
  };
}

/**
 * Joins the cluster before any listener opens, so that no client is served outside it. The cluster
 * code (and ioredis) is loaded only when a cluster is configured.
 */
async function joinCluster(culex: Culex, config: CulexConfig, overrides: AssembleOverrides, logger: Logger, dynsec: readonly DynamicSecurity[]): Promise<void> {
  const url = overrides.cluster ?? config.cluster;
  if (url === undefined) return;
  const { parseClusterUrl } = await import('../cluster/cluster-url.js');
  const parsed = parseClusterUrl(url);
  if (typeof parsed === 'string') throw new Error(parsed);
  const firstPort = config.localOnly ? (overrides.ports?.[0] ?? 1883) : (config.listeners[0]?.port ?? 1883);
  const nodeId = overrides.nodeId ?? config.clusterNodeId ?? `${hostname()}:${firstPort}`;
  const { ClusterNode } = await import('../cluster/node.js');
  const listeners = config.localOnly ? (overrides.ports ?? [1883]) : config.listeners.map((listener) => listener.port);
  await ClusterNode.join(culex.broker, { url: parsed, nodeId, heartbeatMs: overrides.heartbeatMs, retainedSweepMs: overrides.retainedSweepMs, describe: () => ({ host: hostname(), ports: listeners }), dynsec });
  logger.log('debug', `Cluster node id ${nodeId}.`);
}

/**
 * The store when persistence is on: the SQLite file, or on a cluster node the cluster's Redis,
 * where every node finds every persistent session; throws (naming the file or Redis) when it
 * cannot be used.
 */
async function openStore(config: CulexConfig, overrides: AssembleOverrides, logger: Logger): Promise<Store | undefined> {
  const location = overrides.persistenceLocation ?? (config.persistence ? (config.persistenceLocation ?? '') : undefined);
  if (location === undefined) return undefined;
  const cluster = overrides.cluster ?? config.cluster;
  if (cluster !== undefined) return openRedisStore(cluster, logger);
  const file = join(location, config.persistenceFile ?? defaultPersistenceFile);
  const store = SqliteStore.open({ file, onError: (error) => logger.log('error', `Error: persistence file ${file}: ${error.message}`) });
  logger.log('notice', `Persistence file ${file} (SQLite, WAL, synchronous=FULL).`);
  return store;
}

/** Sessions in the cluster's Redis (docs/CLUSTER.md); ioredis is loaded only on a cluster node. */
async function openRedisStore(url: string, logger: Logger): Promise<Store> {
  const { parseClusterUrl } = await import('../cluster/cluster-url.js');
  const parsed = parseClusterUrl(url);
  if (typeof parsed === 'string') throw new Error(parsed);
  const { redisClient } = await import('../cluster/redis-link.js');
  const { RedisStore } = await import('../store/redis.js');
  const where = parsed.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
  const client = redisClient(parsed);
  client.on('error', () => {}); // a lost connection shows as failed commits, logged by the store
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.connect(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10000 ms')), 10_000)))]);
  } catch (error) {
    client.disconnect();
    throw new Error(`cannot reach Redis at ${where} for the session store: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
  logger.log('notice', `Persistence: sessions in Redis at ${where}, shared by the cluster (no persistence file on a cluster node).`);
  return new RedisStore(client, { onError: (error) => logger.log('error', `Error: session store in Redis at ${where}: ${error.message}`) });
}

/** No listener configured: Mosquitto 2's local-only mode (or the -p/--host ports). */
async function openDefaultListeners(culex: Culex, overrides: AssembleOverrides, listeners: Listener[], logger: Logger): Promise<void> {
  const ports = overrides.ports !== undefined && overrides.ports.length > 0 ? overrides.ports : [1883];
  if (overrides.host !== undefined) {
    for (const port of ports) {
      listeners.push(await listenTcp(culex.broker, { port, host: overrides.host }));
      logger.log('notice', `Opening listen socket on ${overrides.host} port ${port}.`);
    }
    return;
  }
  logger.log('notice', 'Starting in local only mode. Connections will only be possible from clients running on this machine.');
  logger.log('notice', 'Create a configuration file which defines a listener to allow remote access.');
  for (const port of ports) {
    listeners.push(await listenTcp(culex.broker, { port, host: '127.0.0.1' }));
    logger.log('notice', `Opening ipv4 listen socket on port ${port}.`);
    try {
      listeners.push(await listenTcp(culex.broker, { port, host: '::1' }));
      logger.log('notice', `Opening ipv6 listen socket on port ${port}.`);
    } catch (error) {
      logger.log('warning', `Warning: no ipv6 listen socket on port ${port}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Each listener's name in client identities ("mqtt:1883", "wss:8884"), made unique for per-listener security. */
function listenerNames(listeners: readonly ListenerConfig[]): string[] {
  const names = listeners.map((listener) => {
    const tls = listener.certfile !== undefined;
    const kind = listener.protocol === 'websockets' ? (tls ? 'wss' : 'ws') : tls ? 'mqtts' : 'mqtt';
    return `${kind}:${listener.port}`;
  });
  return names.map((name, index) => (names.indexOf(name) === index ? name : `${name}#${index}`));
}

interface LoadedSecurity {
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly controlHandlers: ControlHandler[];
  /** Every dynamic-security configuration (one per file), for a cluster node to share. */
  readonly dynsec: DynamicSecurity[];
}

/** Reads the password, ACL and dynamic-security files of the configuration; throws on a bad file. */
async function loadSecurity(config: CulexConfig, names: readonly string[], logger: Logger, reloadables: Reloadable[]): Promise<LoadedSecurity> {
  // Listeners naming the same dynamic-security file share one state, so a change made through one is seen by all.
  const dynsecByFile = new Map<string, DynamicSecurity>();
  const loadScope = async (scope: SecurityConfig, allowAnonymous: boolean): Promise<{ authenticator: Authenticator; authorizer: Authorizer; dynsec: DynamicSecurity | undefined }> => {
    const passwordFile = scope.passwordFile === undefined ? undefined : await PasswordFile.load(scope.passwordFile, { allowAnonymous, logger });
    const aclFile = scope.aclFile === undefined ? undefined : await AclFile.load(scope.aclFile, { logger, denySubscribe: config.aclDenySubscribe });
    if (passwordFile !== undefined) reloadables.push(passwordFile);
    if (aclFile !== undefined) reloadables.push(aclFile);
    let dynsec: DynamicSecurity | undefined;
    if (scope.dynsecPlugin && scope.dynsecFile !== undefined) {
      dynsec = dynsecByFile.get(scope.dynsecFile);
      if (dynsec === undefined) {
        try {
          dynsec = DynamicSecurity.load(scope.dynsecFile, logger);
        } catch (error) {
          if (error instanceof DynsecFileError) throw new Error(`Error loading Dynamic security plugin config ${scope.dynsecFile}: ${error.message}`);
          throw error;
        }
        dynsecByFile.set(scope.dynsecFile, dynsec);
      }
    }
    return { ...composeSecurity({ allowAnonymous, passwordFile, aclFile, dynsec }), dynsec };
  };

  if (!config.perListenerSettings) {
    const global: SecurityConfig = { allowAnonymous: config.allowAnonymous, passwordFile: config.passwordFile, aclFile: config.aclFile, dynsecPlugin: config.dynsecFile !== undefined, dynsecFile: config.dynsecFile };
    const loaded = await loadScope(global, config.allowAnonymous);
    return { authenticator: loaded.authenticator, authorizer: loaded.authorizer, controlHandlers: loaded.dynsec === undefined ? [] : [loaded.dynsec], dynsec: [...dynsecByFile.values()] };
  }

  // per_listener_settings true: a listener without allow_anonymous refuses anonymous clients, as in Mosquitto 2.0.
  const byListener = new Map<string, { authenticator: Authenticator; authorizer: Authorizer }>();
  const dynsecByListener = new Map<string, DynamicSecurity>();
  for (const [index, listener] of config.listeners.entries()) {
    const loaded = await loadScope(listener.security, listener.security.allowAnonymous ?? false);
    byListener.set(names[index]!, loaded);
    if (loaded.dynsec !== undefined) dynsecByListener.set(names[index]!, loaded.dynsec);
  }
  const fallback = composeSecurity({ allowAnonymous: config.localOnly });
  const security = new PerListenerSecurity(byListener, fallback);
  const controlHandlers: ControlHandler[] = [];
  if (dynsecByListener.size > 0) {
    // The control topic reaches the plugin of the listener the administrator came in on.
    controlHandlers.push({
      topic: [...dynsecByListener.values()][0]!.topic,
      handle: (request: ControlRequest) => dynsecByListener.get(request.client.listener)?.handle(request),
    });
  }
  return { authenticator: security, authorizer: security, controlHandlers, dynsec: [...dynsecByFile.values()] };
}
