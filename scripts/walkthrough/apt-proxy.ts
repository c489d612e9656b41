// The Debian root recorded in a walkthrough has its own network namespace (so its port 1883 is its
// own) with nothing but loopback in it. apt inside still downloads for real: it talks to a plain
// HTTP forward proxy on the sandbox's 127.0.0.1, which this file provides in two halves joined by a
// Unix socket — the bridge listens inside the namespace, the proxy makes the requests from outside.
import { createServer as createHttpServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createConnection, createServer as createTcpServer, type Server } from 'node:net';

/** The proxy half: an HTTP forward proxy (absolute-URI requests, http only) on a Unix socket. */
export function startForwardProxy(socketPath: string): Promise<Server> {
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URI required\n');
      return;
    }
    if (target.protocol !== 'http:') {
      res.writeHead(501).end('only http is proxied\n');
      return;
    }
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target.host };
    delete headers['proxy-connection'];
    const upstream = request(
      { host: target.hostname, port: target.port || 80, path: target.pathname + target.search, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`${error.message}\n`);
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

/** The bridge half, run inside the namespace: TCP host:port → the proxy's Unix socket. */
export function startBridge(port: number, socketPath: string): Promise<Server> {
  const server = createTcpServer((client) => {
    const upstream = createConnection(socketPath);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
