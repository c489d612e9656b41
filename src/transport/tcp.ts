// MQTT over TCP (and, with a secure context, over TLS): one listening socket per address.

import { createServer, type Server, type Socket } from 'node:net';
import type { Broker } from '../broker/broker.js';
import { SocketConnection } from './connection.js';

export interface TcpListenerOptions {
  port: number;
  /** Address to bind; undefined = every interface (IPv4 and IPv6). */
  host?: string | undefined;
  /** Name for logs and per-listener rules. */
  name?: string;
  /** Refuse connections beyond this many (Mosquitto's max_connections); -1 = unlimited. */
  maxConnections?: number;
}

export interface Listener {
  readonly name: string;
  /** The bound port (useful when port 0 asked for a free one). */
  readonly port: number;
  readonly host: string | undefined;
  close(): Promise<void>;
}

export function listenTcp(broker: Broker, options: TcpListenerOptions): Promise<Listener> {
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    new SocketConnection(socket, broker, name);
  });
  const name = options.name ?? `mqtt:${options.port}`;
  if (options.maxConnections !== undefined && options.maxConnections >= 0) server.maxConnections = options.maxConnections;
  return bind(server, options.port, options.host, name);
}

export function bind(server: Server, port: number, host: string | undefined, name: string): Promise<Listener> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      const address = server.address();
      const boundPort = typeof address === 'object' && address !== null ? address.port : port;
      resolve({
        name,
        port: boundPort,
        host,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
          }),
      });
    });
  });
}
