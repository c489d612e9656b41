// `culex broker`: runs the broker, configured by a mosquitto.conf (-c) or by -p/--host. With no
// listener configured it behaves like Mosquitto 2: local-only mode on 127.0.0.1:1883 and
// [::1]:1883, anonymous clients allowed.

import type { Logger } from '../broker/logger.js';
import { assemble, configuredLogger, type AssembledBroker } from '../config/assemble.js';
import { defaultConfig, readMosquittoConf, ConfigError } from '../config/mosquitto-conf.js';
import { version } from './version.js';

const usageText = `Usage: culex broker [-c config_file] [--test-config] [-p port] [--host address] [-v]
                    [--persistence-location dir]
                    [--cluster redis://HOST:PORT | redis-cluster://HOST:PORT,HOST:PORT] [--node-id ID]

 -c, --config-file  read this mosquitto.conf (see docs/CONFIG.md)
 --test-config      check the configuration file, print "Configuration file is OK." or the error, exit
 -p, --port     listen on this port (may be given up to 10 times); without --host,
                on the loopback interfaces only, as mosquitto -p does; ignored when the
                configuration file defines listeners
 --host         bind address for the -p ports (e.g. 0.0.0.0 for every interface)
 --persistence-location dir
                keep retained messages, persistent sessions and queued QoS 1/2 messages
                in dir/culex.db (SQLite), across restarts and crashes; the same as
                "persistence true" + "persistence_location dir" (npm start uses ./data).
                Without it (and without persistence in the configuration file)
                everything is kept in memory only
 --cluster      join the cluster of Culex nodes sharing this Redis server or Redis Cluster
                (docs/CLUSTER.md); over the configuration's cluster option
 --node-id      this node's id in the cluster (default: host name and first port)
 --cluster-heartbeat SECONDS
                seconds between cluster heartbeats (default 2); a node silent for three
                is taken for dead
 --cluster-retained-sweep SECONDS
                seconds between sweeps of expired retained messages out of Redis (default 30)
 -v, --verbose  log every message type (subscribe, unsubscribe, debug)
 -h, --help     this text
 --version      print the version
`;

interface BrokerArgs {
  ports: number[];
  host: string | undefined;
  verbose: boolean;
  configFile: string | undefined;
  testConfig: boolean;
  cluster: string | undefined;
  nodeId: string | undefined;
  heartbeatMs: number | undefined;
  retainedSweepMs: number | undefined;
  persistenceLocation: string | undefined;
}

function parseArgs(argv: string[]): BrokerArgs | string {
  const args: BrokerArgs = { ports: [], host: undefined, verbose: false, configFile: undefined, testConfig: false, cluster: undefined, nodeId: undefined, heartbeatMs: undefined, retainedSweepMs: undefined, persistenceLocation: undefined };
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
      case '--config-file': {
        const file = value();
        if (file === undefined || file === '') return 'Error: -c argument given, but no config file specified.';
        args.configFile = file;
        break;
      }
      case '--test-config':
        args.testConfig = true;
        break;
      case '--persistence-location': {
        const dir = value();
        if (dir === undefined || dir === '') return 'Error: --persistence-location needs a directory.';
        args.persistenceLocation = dir;
        break;
      }
      case '--cluster': {
        const url = value();
        if (url === undefined || url === '') return 'Error: --cluster needs a Redis URL (redis://HOST:PORT or redis-cluster://HOST:PORT,...).';
        args.cluster = url;
        break;
      }
      case '--cluster-heartbeat': {
        const text = value();
        const seconds = Number(text);
        if (text === undefined || !(seconds >= 0.1 && seconds <= 3600)) return `Error: Invalid --cluster-heartbeat '${text ?? ''}' (0.1 to 3600 seconds).`;
        args.heartbeatMs = Math.round(seconds * 1000);
        break;
      }
      case '--cluster-retained-sweep': {
        const text = value();
        const seconds = Number(text);
        if (text === undefined || !(seconds >= 0.1 && seconds <= 86400)) return `Error: Invalid --cluster-retained-sweep '${text ?? ''}' (0.1 to 86400 seconds).`;
        args.retainedSweepMs = Math.round(seconds * 1000);
        break;
      }
      case '--node-id': {
        const id = value();
        if (id === undefined || id === '') return 'Error: --node-id needs an id.';
        args.nodeId = id;
        break;
      }
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
  if (args.testConfig && args.configFile === undefined) {
    process.stderr.write('Error: --test-config needs a configuration file (-c).\n');
    return 3;
  }
  const config = args.configFile === undefined ? defaultConfig() : readMosquittoConf(args.configFile);
  if (config instanceof ConfigError) {
    process.stderr.write(`${config.lines().join('\n')}\n`);
    return 3; // as Mosquitto: MOSQ_ERR_INVAL
  }
  if (args.testConfig) {
    process.stdout.write('Configuration file is OK.\n');
    return 0;
  }
  let logger: Logger;
  try {
    logger = configuredLogger(config, args.verbose);
  } catch (error) {
    process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1; // as Mosquitto when log_dest file cannot be opened
  }
  logger.log('notice', `culex version ${version()} starting`);
  if (args.configFile !== undefined) logger.log('notice', `Config loaded from ${args.configFile}.`);
  // Listeners open during assemble(): a SIGHUP arriving before the broker runs (logrotate, a service
  // manager) must not kill it with the default action; it is kept and served once running. One
  // listener serves both phases: swapping a start-up listener for a running one let a SIGHUP that
  // Node had already taken in, but not yet dispatched, find no listener and vanish (seen once in CI:
  // a reload never logged).
  const hup: Hup = { duringStart: false, reload: undefined };
  const onHup = (): void => {
    if (hup.reload !== undefined) hup.reload();
    else hup.duringStart = true;
  };
  process.on('SIGHUP', onHup);
  let running: AssembledBroker;
  try {
    running = await assemble(config, { verbose: args.verbose, ports: args.ports, host: args.host, logger, cluster: args.cluster, nodeId: args.nodeId, heartbeatMs: args.heartbeatMs, retainedSweepMs: args.retainedSweepMs, persistenceLocation: args.persistenceLocation });
  } catch (error) {
    process.off('SIGHUP', onHup);
    const message = error instanceof Error ? error.message : String(error);
    logger.log('error', `Error: ${message}`);
    return 1;
  }
  logger.log('notice', `culex version ${version()} running`);
  const stopped = waitForSignal(running, logger, hup);
  void stopped.then(() => process.off('SIGHUP', onHup));
  return stopped;
}

/** The SIGHUP listener's state: a reload asked for during start-up, and the reload once running. */
interface Hup {
  duringStart: boolean;
  reload: (() => void) | undefined;
}

/**
 * Runs until SIGINT or SIGTERM, then stops gracefully (v5 clients get DISCONNECT 0x8B). SIGHUP
 * re-reads certificates, password and ACL files without dropping connections.
 */
function waitForSignal(running: AssembledBroker, logger: Logger, hup: Hup): Promise<number> {
  return new Promise((resolve) => {
    const reload = (): void => {
      logger.log('notice', 'Reloading config (SIGHUP).');
      running.reload().catch((error: unknown) => logger.log('error', `Error: reload failed: ${error instanceof Error ? error.message : String(error)}`));
    };
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      hup.reload = () => undefined; // stopping: a late SIGHUP is ignored, not fatal
      logger.log('notice', `culex version ${version()} terminating (${signal})`);
      running.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    hup.reload = reload;
    if (hup.duringStart) reload();
  });
}
