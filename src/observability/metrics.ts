// The HTTP admin endpoint (Culex-only; Mosquitto has only $SYS): GET /metrics in Prometheus' text
// exposition format 0.0.4 and GET /healthz for probes. Off unless metrics_listener is configured.
// Plain node:http: two read-only routes need no framework.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../broker/broker.js';
import { readFigures, type BrokerFigures } from './figures.js';

interface Metric {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly value: (f: BrokerFigures) => number;
}

/** Every metric, named culex_<what>[_total] after Prometheus' naming conventions. */
const metrics: readonly Metric[] = [
  { name: 'culex_uptime_seconds', type: 'gauge', help: 'Seconds since the broker started.', value: (f) => f.uptimeSeconds },
  { name: 'culex_clients_connected', type: 'gauge', help: 'Clients connected now.', value: (f) => f.clientsConnected },
  { name: 'culex_clients_disconnected', type: 'gauge', help: 'Persistent sessions whose client is away.', value: (f) => f.clientsDisconnected },
  { name: 'culex_sessions', type: 'gauge', help: 'Sessions, connected or not ($SYS clients/total).', value: (f) => f.clientsTotal },
  { name: 'culex_clients_maximum', type: 'gauge', help: 'Most sessions held at once since start.', value: (f) => f.clientsMaximum },
  { name: 'culex_clients_expired_total', type: 'counter', help: 'Disconnected sessions that expired.', value: (f) => f.clientsExpired },
  { name: 'culex_connections_open', type: 'gauge', help: 'Open network connections, including those before CONNECT.', value: (f) => f.connectionsOpen },
  { name: 'culex_connections_total', type: 'counter', help: 'Network connections accepted.', value: (f) => f.connectionsTotal },
  { name: 'culex_clients_accepted_total', type: 'counter', help: 'CONNECTs accepted.', value: (f) => f.clientsAccepted },
  { name: 'culex_packets_received_total', type: 'counter', help: 'MQTT packets of every type received.', value: (f) => f.messagesReceived },
  { name: 'culex_packets_sent_total', type: 'counter', help: 'MQTT packets of every type sent.', value: (f) => f.messagesSent },
  { name: 'culex_publish_received_total', type: 'counter', help: 'PUBLISH packets received from clients.', value: (f) => f.publishReceived },
  { name: 'culex_publish_sent_total', type: 'counter', help: 'PUBLISH packets sent to clients.', value: (f) => f.publishSent },
  { name: 'culex_publish_dropped_total', type: 'counter', help: 'Messages dropped: full queue, congested socket or too large for the client.', value: (f) => f.publishDropped },
  { name: 'culex_publish_received_bytes_total', type: 'counter', help: 'Payload bytes of PUBLISH packets received.', value: (f) => f.publishBytesReceived },
  { name: 'culex_publish_sent_bytes_total', type: 'counter', help: 'Payload bytes of PUBLISH packets sent.', value: (f) => f.publishBytesSent },
  { name: 'culex_received_bytes_total', type: 'counter', help: 'Bytes read from client sockets.', value: (f) => f.bytesReceived },
  { name: 'culex_sent_bytes_total', type: 'counter', help: 'Bytes written to client sockets.', value: (f) => f.bytesSent },
  { name: 'culex_subscriptions', type: 'gauge', help: 'Subscriptions held, a shared subscription counting once per member.', value: (f) => f.subscriptions },
  { name: 'culex_shared_subscriptions', type: 'gauge', help: 'Shared subscription members.', value: (f) => f.sharedSubscriptions },
  { name: 'culex_retained_messages', type: 'gauge', help: 'Retained messages held.', value: (f) => f.retainedMessages },
  { name: 'culex_store_messages', type: 'gauge', help: 'Messages held: retained, queued and in flight.', value: (f) => f.storeMessages },
  { name: 'culex_store_bytes', type: 'gauge', help: 'Payload bytes of the messages held.', value: (f) => f.storeBytes },
  { name: 'culex_heap_bytes', type: 'gauge', help: 'V8 heap in use.', value: (f) => f.heapBytes },
];

/** The /metrics body: HELP and TYPE lines, then the sample, for each metric. */
export function renderMetrics(figures: BrokerFigures): string {
  let text = '';
  for (const metric of metrics) {
    text += `# HELP ${metric.name} ${metric.help}\n# TYPE ${metric.name} ${metric.type}\n${metric.name} ${metric.value(figures)}\n`;
  }
  return text;
}

export interface MetricsServer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  readonly port: number;
  /** Bind address; loopback unless given, since the figures are for the operator only. */
  readonly host: string;
  /** More exposition text appended to /metrics (e.g. the bridges' metrics). */
  readonly extra?: () => string;
}

function answer(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(body);
}

function route(broker: Broker, options: MetricsServerOptions, request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return answer(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/metrics') return answer(response, 200, 'text/plain; version=0.0.4; charset=utf-8', renderMetrics(readFigures(broker)) + (options.extra?.() ?? ''));
  if (path === '/healthz') {
    // healthy = accepting clients; a stopping broker answers 503 so a balancer drains it
    return broker.isClosing ? answer(response, 503, 'text/plain; charset=utf-8', 'stopping\n') : answer(response, 200, 'text/plain; charset=utf-8', 'ok\n');
  }
  answer(response, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
}

export function startMetricsServer(broker: Broker, options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => route(broker, options, request, response));
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        port: address.port,
        address: address.address,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
