// One reading of the broker's figures, shared by the $SYS tree and the Prometheus endpoint so that
// both report the same numbers. Counters are copied from Broker.stats; gauges are computed here, at
// reading time (every sys_interval or per scrape), never on the message path.

import type { Broker } from '../broker/broker.js';

export interface BrokerFigures {
  readonly uptimeSeconds: number;
  /** Clients with a connection (after CONNECT). */
  readonly clientsConnected: number;
  /** Sessions kept for clients that are away. */
  readonly clientsDisconnected: number;
  /** Connected and disconnected persistent sessions. */
  readonly clientsTotal: number;
  readonly clientsMaximum: number;
  readonly clientsExpired: number;
  /** Open sockets, including those that have not sent CONNECT yet. */
  readonly connectionsOpen: number;
  readonly connectionsTotal: number;
  readonly clientsAccepted: number;
  readonly messagesReceived: number;
  readonly messagesSent: number;
  readonly publishReceived: number;
  readonly publishSent: number;
  readonly publishDropped: number;
  readonly publishBytesReceived: number;
  readonly publishBytesSent: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly subscriptions: number;
  readonly sharedSubscriptions: number;
  readonly retainedMessages: number;
  /** Messages held: retained, queued and in flight. */
  readonly storeMessages: number;
  readonly storeBytes: number;
  readonly heapBytes: number;
}

export function readFigures(broker: Broker, now = Date.now()): BrokerFigures {
  const stats = broker.stats;
  let stored = broker.retained.size;
  let storedBytes = broker.retained.bytes;
  for (const session of broker.sessions.values()) {
    stored += session.inflightCount + session.queuedCount;
    storedBytes += session.storedBytes;
  }
  const connected = broker.channels.size;
  const total = broker.sessions.size;
  return {
    uptimeSeconds: Math.floor((now - broker.startedAt) / 1000),
    clientsConnected: connected,
    clientsDisconnected: Math.max(0, total - connected),
    clientsTotal: total,
    clientsMaximum: Math.max(stats.maxClients, total),
    clientsExpired: stats.clientsExpired,
    connectionsOpen: broker.connections.size,
    connectionsTotal: stats.connectionsTotal,
    clientsAccepted: stats.clientsAccepted,
    messagesReceived: stats.messagesReceived,
    messagesSent: stats.messagesSent,
    publishReceived: stats.publishReceived,
    publishSent: stats.sent,
    publishDropped: stats.dropped,
    publishBytesReceived: stats.publishBytesReceived,
    publishBytesSent: stats.publishBytesSent,
    bytesReceived: stats.bytesReceived,
    bytesSent: stats.bytesSent,
    subscriptions: broker.router.subscriptionCount,
    sharedSubscriptions: broker.router.sharedSubscriptionCount,
    retainedMessages: broker.retained.size,
    storeMessages: stored,
    storeBytes: storedBytes,
    heapBytes: process.memoryUsage().heapUsed,
  };
}
