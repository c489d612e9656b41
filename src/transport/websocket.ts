// MQTT over WebSocket (ws:// and, with certificates, wss://), with the `ws` package. Each binary
// message carries MQTT bytes; the WebSocket is wrapped as a stream and handed to the same
// SocketConnection as TCP, so parsing, batching and backpressure are shared.
// Like Mosquitto, any URL path is accepted (MQTT.js uses /mqtt); the subprotocol must be `mqtt`
// or `mqttv3.1` when the client offers one. A text frame closes the connection [MQTT-6.0.0-1].

import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:net';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { Broker } from '../broker/broker.js';
import { SocketConnection } from './connection.js';
import { bind, type TcpListenerOptions } from './tcp.js';
import { certificateIdentity, secureContextOptions, tlsServerOptions, type SecureListener, type TlsSettings } from './tls.js';
import type { TLSSocket } from 'node:tls';

export interface WebSocketListenerOptions extends TcpListenerOptions {
  /** Only this URL path is served; undefined = every path, as Mosquitto does. */
  path?: string | undefined;
  /** Certificates for wss://. */
  tls?: TlsSettings | undefined;
}

const subprotocols = ['mqtt', 'mqttv3.1'];

export async function listenWebSocket(broker: Broker, options: WebSocketListenerOptions): Promise<SecureListener> {
  const settings = options.tls;
  const name = options.name ?? `${settings === undefined ? 'ws' : 'wss'}:${options.port}`;
  const server = settings === undefined ? createHttpServer() : createHttpsServer(tlsServerOptions(settings));
  const webSockets = new WebSocketServer({
    server,
    ...(options.path === undefined ? {} : { path: options.path }),
    maxPayload: broker.options.maxPacketSize,
    handleProtocols: (offered: Set<string>) => subprotocols.find((protocol) => offered.has(protocol)) ?? false,
  });
  webSockets.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const raw = request.socket;
    raw.setNoDelay(true);
    const stream = createWebSocketStream(socket);
    // [MQTT-6.0.0-1] MQTT travels in binary frames only: a text frame closes the connection before
    // the stream's own listener (registered above, run after this one) can hand its bytes on.
    socket.prependListener('message', (_data: unknown, isBinary: boolean) => {
      if (isBinary) return;
      stream.destroy();
      socket.close(1003, 'MQTT needs binary frames');
    });
    const identity = settings === undefined ? undefined : certificateIdentity(raw as TLSSocket, settings);
    new SocketConnection(stream, broker, name, {
      peer: { remoteAddress: raw.remoteAddress, remotePort: raw.remotePort, localPort: raw.localPort },
      certificateIdentity: identity,
    });
  });
  if (options.maxConnections !== undefined && options.maxConnections >= 0) server.maxConnections = options.maxConnections;
  const listener = await bind(server as Server, options.port, options.host, name);
  return {
    ...listener,
    close: async () => {
      webSockets.close(); // open connections are ended by the broker (v5 clients get DISCONNECT 0x8B first)
      await listener.close();
    },
    reloadCertificates: () => {
      if (settings !== undefined) (server as ReturnType<typeof createHttpsServer>).setSecureContext(secureContextOptions(settings));
    },
  };
}
