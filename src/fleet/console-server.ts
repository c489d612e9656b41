// The admin console's own HTTP server: the page and its script (plain files, no bundler), MQTT.js's
// browser build from node_modules, the broker's WebSocket address for the page (/api/config) and
// the recorder's history (/api/history). The page talks to the broker itself, over MQTT over
// WebSocket, with the operator's login.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { answerHistory, answerSensors, sendJson } from './history-api.js';
import type { ReadingStore } from './reading-store.js';
import type { FleetTopics } from './topics.js';

export interface ConsoleOptions {
  readonly port: number;
  readonly host?: string;
  /**
   * The broker's MQTT-over-WebSocket URL as the browser must use it. When only a port is known,
   * give `webSocketPort`: the page then uses the host name it was loaded from.
   */
  readonly brokerUrl?: string;
  readonly webSocketPort?: number;
  readonly topics: FleetTopics;
  /** The page asks for a username and password before connecting. */
  readonly loginRequired: boolean;
  /** The recorder's database, for the history; without it the page shows live data only. */
  readonly readings?: ReadingStore | undefined;
}

export interface ConsoleServer {
  readonly port: number;
  /** http://host:port/ */
  readonly url: string;
  close(): Promise<void>;
}

const webRoot = new URL('./console-web/', import.meta.url);
const staticFiles: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/plot.js': { file: 'plot.js', type: 'text/javascript; charset=utf-8' },
  '/sensor-admin.js': { file: 'sensor-admin.js', type: 'text/javascript; charset=utf-8' },
  '/sensor-list.js': { file: 'sensor-list.js', type: 'text/javascript; charset=utf-8' },
  '/dynsec-link.js': { file: 'dynsec-link.js', type: 'text/javascript; charset=utf-8' },
  '/sensor-role.js': { file: 'sensor-role.js', type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** MQTT.js's browser bundle, as installed with the package. */
const mqttBundle = createRequire(import.meta.url).resolve('mqtt/dist/mqtt.min');

const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Scripts and styles from this server only; the page may open WebSockets to the broker.
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
};

async function sendFile(response: ServerResponse, path: string, type: string, method: string): Promise<void> {
  const body = await readFile(path);
  response.writeHead(200, { ...securityHeaders, 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache' });
  response.end(method === 'HEAD' ? undefined : body);
}

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const url = new URL(request.url ?? '/', 'http://console');
    const page = staticFiles[url.pathname];
    if (page !== undefined) return sendFile(response, fileURLToPath(new URL(page.file, webRoot)), page.type, method);
    switch (url.pathname) {
      case '/mqtt.min.js':
        return sendFile(response, mqttBundle, 'text/javascript; charset=utf-8', method);
      case '/api/config':
        return sendJson(response, 200, {
          brokerUrl: options.brokerUrl,
          webSocketPort: options.webSocketPort,
          topics: options.topics,
          loginRequired: options.loginRequired,
          history: options.readings !== undefined,
        });
      case '/api/history':
        return answerHistory(options.readings, url.searchParams, response);
      case '/api/sensors':
        return answerSensors(options.readings, response);
      default:
        sendJson(response, 404, { error: 'not found' });
    }
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
