// `culex broker`: runs the broker. With no listener given it behaves like Mosquitto 2 with no
// configuration: local-only mode on 127.0.0.1:1883 and [::1]:1883, anonymous clients allowed.

import { createBroker, type Culex } from '../index.js';
import { StreamLogger, allLogTypes, defaultLogTypes } from '../observability/log.js';
import type { Logger } from '../broker/logger.js';
import { version } from './version.js';

const usageText = `Usage: culex broker [-p port] [--host address] [-v]

 -p, --port     listen on this port (may be given up to 10 times); without --host,
                on the loopback interfaces only, as mosquitto -p does
 --host         bind address for the -p ports (e.g. 0.0.0.0 for every interface)
 -v, --verbose  log every message type (subscribe, unsubscribe, debug)
 -h, --help     this text
 --version      print the version
`;

interface BrokerArgs {
  ports: number[];
  host: string | undefined;
  verbose: boolean;
}

function parseArgs(argv: string[]): BrokerArgs | string {
  const args: BrokerArgs = { ports: [], host: undefined, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case '-p':
      case '--port': {
        const text = value();
        const port = Number(text);
        if (text === undefined || !Number.isInteger(port) || port < 0 || port > 65535) return `Error: Invalid port '${text ?? ''}'.`;
        if (args.ports.length === 10) return 'Error: Only 10 ports may be given with -p.';
        args.ports.push(port);
        break;
      }
      case '--host':
      case '--bind': {
        const host = value();
        if (host === undefined || host === '') return `Error: ${flag} needs an address.`;
        args.host = host;
        break;
      }
      case '-v':
      case '--verbose':
        args.verbose = true;
        break;
      case '-c':
      case '--config-file':
        return 'Error: configuration files are not supported by this version of culex broker yet; use -p and --host.';
      default:
        return `Error: Unknown option '${flag}'.`;
    }
  }
  return args;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usageText);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`culex broker ${version()}\n`);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n\n${usageText}`);
    return 3; // Mosquitto exits 3 (MOSQ_ERR_INVAL) on bad arguments
  }
  const logger = new StreamLogger({ types: args.verbose ? allLogTypes : defaultLogTypes, stream: process.stderr, timestamp: true });
  logger.log('notice', `culex version ${version()} starting`);
  const culex = createBroker({ logger });
  try {
    await openListeners(culex, args, logger);
  } catch (error) {
    logger.log('error', `Error: ${error instanceof Error ? error.message : String(error)}`);
    await culex.close();
    return 1;
  }
  logger.log('notice', `culex version ${version()} running`);
  return waitForSignal(culex, logger);
}

async function openListeners(culex: Culex, args: BrokerArgs, logger: Logger): Promise<void> {
  const ports = args.ports.length > 0 ? args.ports : [1883];
  if (args.host !== undefined) {
    for (const port of ports) {
      await culex.listen({ port, host: args.host });
      logger.log('notice', `Opening listen socket on ${args.host} port ${port}.`);
    }
    return;
  }
  logger.log('notice', 'Starting in local only mode. Connections will only be possible from clients running on this machine.');
  logger.log('notice', 'Use --host (or, later, a configuration file with a listener) to allow remote access.');
  for (const port of ports) {
    await culex.listen({ port, host: '127.0.0.1' });
    logger.log('notice', `Opening ipv4 listen socket on port ${port}.`);
    try {
      await culex.listen({ port, host: '::1' });
      logger.log('notice', `Opening ipv6 listen socket on port ${port}.`);
    } catch (error) {
      logger.log('warning', `Warning: no ipv6 listen socket on port ${port}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Runs until SIGINT or SIGTERM, then stops gracefully (v5 clients get DISCONNECT 0x8B). */
function waitForSignal(culex: Culex, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      logger.log('notice', `culex version ${version()} terminating (${signal})`);
      culex.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}
