// `culex console`: the fleet's web console on its own port, for a broker with a WebSocket listener.

import { startConsole } from '../fleet/console-server.js';
import { openReadings } from '../fleet/open-readings.js';
import type { ReadingStore } from '../fleet/reading-store.js';
import { fleetCommandArgs, topicFlags, topicUsage } from './fleet-topics.js';
import { untilSignal } from './long-flags.js';

const usage = `Usage: culex console [--port 8080] [--ws-port 8083 | --broker ws://…] [--db …] [--login]

Serves the fleet console: the browser connects to the broker itself over MQTT over WebSocket.

 --port P       the web page's port (default 8080)
 --host ADDR    its interface (default 127.0.0.1)
 --ws-port P    the broker's WebSocket port, on the host the page was loaded from (default 8083)
 --broker URL   or the broker's WebSocket URL as the browser must use it (ws://… or wss://…)
 --db D         the recorder's database (SQLite file or postgres:// URL) for the history
 --login        ask for a username and password before connecting
${topicUsage}
 --help         this text
`;

const flagSpecs = {
  port: { kind: 'integer', min: 0, max: 65535 },
  host: { kind: 'string' },
  'ws-port': { kind: 'integer', min: 1, max: 65535 },
  broker: { kind: 'string' },
  db: { kind: 'string' },
  login: { kind: 'boolean' },
  help: { kind: 'boolean' },
  ...topicFlags,
} as const;

export async function main(argv: string[]): Promise<number> {
  const args = fleetCommandArgs('console', argv, flagSpecs, usage);
  if (typeof args === 'number') return args;
  const { flags, topics } = args;
  if (flags.broker !== undefined && !/^wss?:\/\//.test(flags.broker)) {
    process.stderr.write(`culex console: --broker must be a ws:// or wss:// URL\n`);
    return 1;
  }
  const readings: ReadingStore | undefined = flags.db === undefined ? undefined : await openReadings(flags.db);
  const server = await startConsole({ port: flags.port ?? 8080, host: flags.host, brokerUrl: flags.broker, webSocketPort: flags['ws-port'] ?? 8083, topics, loginRequired: flags.login === true, readings });
  process.stdout.write(`console on ${server.url}${readings === undefined ? ' (live only: no --db for the history)' : ` with history from ${readings.description}`}\n`);
  await untilSignal(async () => {
    await server.close();
    await readings?.close();
  });
  return 0;
}
