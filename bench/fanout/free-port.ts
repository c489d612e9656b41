// Free loopback TCP ports for servers started as child processes (brokers, redis-server, …) by the
// benchmarks and the tests (test/helpers/ports.ts re-exports this).
//
// The port is drawn below Linux's ephemeral range (32768–60999), where the kernel never puts the
// local end of an outgoing connection. A port the OS picked with listen(0) comes from that range,
// and between our check and the child's bind, any client connection (the suite opens thousands)
// could take it: EADDRINUSE, seen in the suite. Here only another listener could, and each process
// hands a port out once. Under scripts/run-tests.mjs (CULEX_PORT_CLAIMS set) a port is also claimed
// for the whole run across the parallel test processes, with a file created exclusively: a test that
// stops and restarts a broker on its port must not see another test file take it in between (seen).
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const LOW = 20_000;
const HIGH = 32_767;
const handedOut = new Set<number>();
const claims = process.env.CULEX_PORT_CLAIMS;

/** True when no other process of this test run has claimed the port; claims it. */
function claim(port: number): boolean {
  if (claims === undefined || claims === '') return true;
  try {
    closeSync(openSync(join(claims, String(port)), 'wx'));
    return true;
  } catch {
    return false;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on right now on 127.0.0.1, not handed out before by this process; at most
 * `highest` (a Redis Cluster node also listens on its port + 10,000, which must stay below the
 * ephemeral range too).
 */
export async function findFreePort(highest = HIGH): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (Math.min(highest, HIGH) - LOW + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (claim(port) && (await bindable(port))) return port;
  }
  throw new Error(`no free port between ${LOW} and ${Math.min(highest, HIGH)} after 200 tries`);
}
