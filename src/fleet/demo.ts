// `culex demo` as a library call: writes the demo's files, starts the broker from its
// mosquitto.conf (the same path as `culex broker -c`: dynamic security, TCP and WebSocket
// listeners), then the recorder, the sensors and the console, each with its own login.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../broker/logger.js';
import { assemble, type AssembledBroker } from '../config/assemble.js';
import { ConfigError, readMosquittoConf } from '../config/mosquitto-conf.js';
import { StreamLogger } from '../observability/log.js';
import { startConsole, type ConsoleServer } from './console-server.js';
import { writeDemoFiles, type DemoFiles, type DemoLogins } from './demo-files.js';
import { Recorder } from './recorder.js';
import { SensorFleet, sensorIds } from './sensor-fleet.js';
import { SqliteReadings } from './sqlite-readings.js';
import { defaultTopics } from './topics.js';

export interface DemoOptions {
  /** MQTT over TCP (default 1883). */
  readonly port?: number;
  /** MQTT over WebSocket, for the console (default 8083). */
  readonly webSocketPort?: number;
  /** The console's web page (default 8080). */
  readonly consolePort?: number;
  /** Interface for all three (default 127.0.0.1). */
  readonly host?: string;
  readonly sensors?: number;
  readonly sampleRateHz?: number;
  readonly adminUser?: string;
  /** Random when not given. */
  readonly adminPassword?: string;
  /** Files and the database (default ./data/demo). */
  readonly dataDir?: string;
  /** The broker's log (default: errors and warnings on stderr). */
  readonly logger?: Logger;
  /** Sensors' and recorder's complaints (default: stderr). */
  readonly report?: (line: string) => void;
}

export interface RunningDemo {
  readonly consoleUrl: string;
  readonly brokerUrl: string;
  readonly webSocketUrl: string;
  readonly admin: { readonly username: string; readonly password: string };
  /** Every login the demo made up (only their hashes are in the password file). */
  readonly logins: DemoLogins;
  readonly sensorIds: readonly string[];
  readonly database: string;
  readonly files: DemoFiles;
  readonly recorder: Recorder;
  readonly fleet: SensorFleet;
  close(): Promise<void>;
}

const secret = (): string => randomBytes(12).toString('base64url');

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 1883;
  const webSocketPort = options.webSocketPort ?? 8083;
  const dataDir = options.dataDir ?? './data/demo';
  const topics = defaultTopics;
  const report = options.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ids = sensorIds(options.sensors ?? 5);
  const admin = { username: options.adminUser ?? 'admin', password: options.adminPassword ?? secret() };
  const logins: DemoLogins = { admin, recorder: { username: 'recorder', password: secret() }, sensors: new Map(ids.map((id) => [id, secret()])) };
  if (ids.includes(admin.username) || admin.username === logins.recorder.username) throw new Error(`the admin user may not be called '${admin.username}'`);

  const files = writeDemoFiles(dataDir, topics, logins, { host, port, webSocketPort });
  const config = readMosquittoConf(files.config);
  if (config instanceof ConfigError) throw new Error(config.message);
  const logger = options.logger ?? new StreamLogger({ types: ['error', 'warning'], stream: process.stderr, timestamp: true });

  // Started in order, stopped in reverse; a failure stops what was started.
  const stops: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.reverse().splice(0)) await stop().catch((error: unknown) => report(`demo: ${error instanceof Error ? error.message : String(error)}`));
  };
  try {
    const broker: AssembledBroker = await assemble(config, { logger });
    stops.push(() => broker.close());
    const brokerHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const brokerUrl = `mqtt://${brokerHost}:${port}`;

    const database = join(dataDir, 'readings.db');
    const readings = await SqliteReadings.open(database);
    stops.push(() => readings.close());
    const recorder = new Recorder({ url: brokerUrl, store: readings, topics, username: logins.recorder.username, password: logins.recorder.password, report: (line) => report(`recorder: ${line}`) });
    await recorder.start();
    stops.push(() => recorder.stop());

    const fleet = await SensorFleet.start({
      count: ids.length,
      url: brokerUrl,
      topics,
      settings: { sampleRateHz: options.sampleRateHz ?? 1, sensitivity: 1, enabled: true },
      credentials: (id) => ({ username: id, password: logins.sensors.get(id)! }),
      report: (sensor, line) => report(`${sensor}: ${line}`),
    });
    stops.push(() => fleet.stop());

    const console: ConsoleServer = await startConsole({ port: options.consolePort ?? 8080, host, webSocketPort, topics, loginRequired: true, readings });
    stops.push(() => console.close());

    return {
      consoleUrl: console.url,
      brokerUrl,
      webSocketUrl: `ws://${brokerHost}:${webSocketPort}/mqtt`,
      admin,
      logins,
      sensorIds: ids,
      database,
      files,
      recorder,
      fleet,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
