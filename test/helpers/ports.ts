// Free loopback TCP ports for brokers started by tests.
import { createServer } from 'node:net';

/** A port nothing listens on right now on 127.0.0.1 (the OS picks it, so parallel test files do not collide). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
