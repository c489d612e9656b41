// Culex's public API: create a broker, open listeners on it, publish from code, close it.
//   import { createBroker } from 'culex';
//   const culex = createBroker();
//   await culex.listen({ port: 1883, host: '127.0.0.1' });

import { Broker, type PublishOptions } from './broker/broker.js';
import { brokerDefaults, type BrokerOptions } from './broker/options.js';
import { silentLogger } from './broker/logger.js';
import { allowAll } from './auth/port.js';
import { MemoryStore } from './store/memory.js';
import { listenTcp, type Listener, type TcpListenerOptions } from './transport/tcp.js';

export interface Culex {
  readonly broker: Broker;
  readonly listeners: readonly Listener[];
  /**
   * Loads what a durable store kept (sessions, retained messages, queues); listen() waits for it,
   * so call it yourself only to open other transports on `broker`. Rejects if the store cannot be read.
   */
  ready(): Promise<void>;
  /** Opens an MQTT-over-TCP listener; port 0 picks a free port (see the returned listener's port). */
  listen(options: TcpListenerOptions): Promise<Listener>;
  /** Publishes a message as the broker; returns how many sessions it was delivered to. */
  publish(topic: string, payload: Buffer | string, options?: PublishOptions): number;
  /** Graceful stop: v5 clients get DISCONNECT 0x8B, listeners close, the store is closed. */
  close(): Promise<void>;
}

export type CulexOptions = Partial<BrokerOptions>;

/** Fills every option not given with its documented default (see broker/options.ts). */
export function resolveOptions(options: CulexOptions = {}): BrokerOptions {
  return {
    ...brokerDefaults,
    authenticator: allowAll,
    enhancedAuthenticators: [],
    authorizer: allowAll,
    controlHandlers: [],
    store: new MemoryStore(),
    logger: silentLogger,
    ...options,
  };
}

export function createBroker(options: CulexOptions = {}): Culex {
  const broker = new Broker(resolveOptions(options));
  const listeners: Listener[] = [];
  return {
    broker,
    listeners,
    ready: () => broker.restore(),
    async listen(listenOptions) {
      await broker.restore();
      const listener = await listenTcp(broker, listenOptions);
      listeners.push(listener);
      return listener;
    },
    publish: (topic, payload, publishOptions) => broker.publish(topic, payload, publishOptions),
    async close() {
      const closing = listeners.map((listener) => listener.close());
      await broker.close();
      await Promise.all(closing);
    },
  };
}

export { Broker } from './broker/broker.js';
export type { BrokerOptions } from './broker/options.js';
export { brokerDefaults } from './broker/options.js';
export type { Logger, LogType } from './broker/logger.js';
export type { Authenticator, Authorizer, AuthenticateRequest, AuthenticateResult, ClientIdentity, EnhancedAuthenticator, EnhancedAuthRequest, AuthStep } from './auth/port.js';
export type { ControlHandler, ControlRequest, ControlBroker } from './broker/control.js';
export { DynamicSecurity } from './auth/dynsec/dynamic-security.js';
export { ScramSha256, scramCredentials, type ScramCredentials } from './auth/scram.js';
export type { Store, StoredState, StoredSession, StoredMessage, StoredSubscription } from './store/port.js';
export type { StoredOutgoing, StoredSessionHeader } from './store/port.js';
export { MemoryStore } from './store/memory.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite.js';
export type { Listener, TcpListenerOptions } from './transport/tcp.js';
export { StreamLogger, DestinationLogger, StreamSink, type LogSink } from './observability/log.js';
export { SysTopics, type SysTopicsOptions } from './observability/sys-topics.js';
export { readFigures, type BrokerFigures } from './observability/figures.js';
export { startMetricsServer, renderMetrics, type MetricsServer, type MetricsServerOptions } from './observability/metrics.js';
export * from './protocol/packets.js';
export { ReasonCode } from './protocol/reason-codes.js';
