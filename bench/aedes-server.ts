// Aedes (a dev dependency) as a benchmark target: its default in-memory persistence and emitter on a
// plain TCP server, the way its README starts it. Started as a child process by the bench targets.
//   node --import tsx bench/aedes-server.ts [--port 1883] [--host 127.0.0.1]

import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const port = Number(value('--port') ?? 1883);
const host = value('--host') ?? '127.0.0.1';

const aedes = await Aedes.createBroker();
// A bench client that vanishes mid-run is no reason to stop: errors of one connection stay with it.
aedes.on('clientError', () => {});
aedes.on('connectionError', () => {});
const server = createServer({ noDelay: true }, aedes.handle);
server.listen({ port, host }, () => process.stdout.write(`aedes listening on ${host}:${port}\n`));

const stop = (): void => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
