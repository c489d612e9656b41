// The files `culex demo` writes into its data directory, each usable on its own: a mosquitto.conf
// (culex broker -c, or mosquitto -c, runs the same broker), the password file, the ACL file that
// keeps every sensor in its lane, and the sensors' own logins for `culex sensors --credentials`.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hashPassword } from '../auth/password-hash.js';
import { formatCredentials } from './credentials-file.js';
import { ALL_SENSORS, configTopic, dataTopic, statusTopic, type FleetTopics } from './topics.js';

export interface Login {
  readonly username: string;
  readonly password: string;
}

export interface DemoLogins {
  readonly admin: Login;
  readonly recorder: Login;
  /** sensor id → password; the username is the sensor id. */
  readonly sensors: ReadonlyMap<string, string>;
}

export interface DemoFiles {
  readonly config: string;
  readonly passwords: string;
  readonly acl: string;
  readonly credentials: string;
}

/** The demo's ACL: Mosquitto's acl_file format, one `user` block per login. */
export function demoAcl(topics: FleetTopics, sensorIds: readonly string[], admin: string, recorder: string): string {
  const lines = [
    '# The sensor fleet ACL (Mosquitto acl_file format), written by culex demo.',
    '# Each sensor writes only its own readings and status, and reads only its own orders and the',
    `# orders to all; the recorder reads the readings; only ${admin} writes orders.`,
    '',
  ];
  for (const id of sensorIds) {
    lines.push(`user ${id}`, `topic write ${dataTopic(topics, id)}`, `topic write ${statusTopic(topics, id)}`, `topic read ${configTopic(topics, id)}`, `topic read ${configTopic(topics, ALL_SENSORS)}`, '');
  }
  lines.push(`user ${recorder}`, `topic read ${topics.data}/#`, '');
  lines.push(`user ${admin}`, `topic read ${topics.data}/#`, `topic read ${topics.status}/#`, `topic readwrite ${topics.config}/#`, '');
  return lines.join('\n');
}

export interface DemoConfigOptions {
  readonly host: string;
  readonly port: number;
  readonly webSocketPort: number;
}

export function demoConfig(files: { readonly passwords: string; readonly acl: string }, options: DemoConfigOptions): string {
  return [
    '# The sensor fleet broker, written by culex demo: `culex broker -c` (or `mosquitto -c`) runs it.',
    'allow_anonymous false',
    `password_file ${files.passwords}`,
    `acl_file ${files.acl}`,
    '# The recorder may be away a while: keep up to 100000 readings queued for it (Mosquitto: 1000),',
    '# and let it have 100 unacknowledged at once so that its batches fill (Mosquitto: 20).',
    'max_queued_messages 100000',
    'max_inflight_messages 100',
    '# Retained statuses, the recorder\'s session and its queued readings survive a broker restart.',
    'persistence true',
    `persistence_location ${dirname(files.passwords)}/`,
    '',
    `listener ${options.port} ${options.host}`,
    '',
    '# MQTT over WebSocket, for the console in the browser',
    `listener ${options.webSocketPort} ${options.host}`,
    'protocol websockets',
    '',
  ].join('\n');
}

/** Writes the four files (secrets with mode 0600) and returns their absolute paths. */
export async function writeDemoFiles(dir: string, topics: FleetTopics, logins: DemoLogins, options: DemoConfigOptions): Promise<DemoFiles> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const files: DemoFiles = { config: join(root, 'mosquitto.conf'), passwords: join(root, 'passwd'), acl: join(root, 'acl'), credentials: join(root, 'sensor-credentials') };
  const everyone: Login[] = [logins.admin, logins.recorder, ...[...logins.sensors].map(([username, password]) => ({ username, password }))];
  const hashed = await Promise.all(everyone.map(async (login) => `${login.username}:${await hashPassword(login.password)}\n`));
  const secret = (path: string, text: string): void => {
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600); // an existing file keeps its mode otherwise
  };
  secret(files.passwords, hashed.join(''));
  secret(files.credentials, formatCredentials(logins.sensors));
  writeFileSync(files.acl, demoAcl(topics, [...logins.sensors.keys()], logins.admin.username, logins.recorder.username));
  writeFileSync(files.config, demoConfig(files, options));
  return files;
}
