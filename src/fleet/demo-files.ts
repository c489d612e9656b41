// The files `culex demo` writes into its data directory, each usable on its own: a mosquitto.conf
// (culex broker -c, or mosquitto -c with Mosquitto's plugin, runs the same broker), the
// dynamic-security file that holds every login and keeps every sensor in its lane, and the
// sensors' own logins for `culex sensors --credentials`.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { formatCredentials } from './credentials-file.js';
import { writeDemoSecurity } from './demo-security.js';
import type { FleetTopics } from './topics.js';

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
  /** Mosquitto's dynamic-security.json: logins, roles and default access. */
  readonly security: string;
  readonly credentials: string;
}

export interface DemoConfigOptions {
  readonly host: string;
  readonly port: number;
  readonly webSocketPort: number;
}

/** Where Debian installs Mosquitto's plugin; Culex takes any path ending in its file name. */
export const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

export function demoConfig(files: { readonly security: string }, options: DemoConfigOptions): string {
  return [
    '# The sensor fleet broker, written by culex demo: `culex broker -c` (or `mosquitto -c`) runs it.',
    'allow_anonymous false',
    '# Logins and rights live in dynamic security, changed at run time through',
    '# $CONTROL/dynamic-security/v1 (the console, culex ctrl or mosquitto_ctrl). Culex loads no C plugin:',
    '# it answers the same API itself; Mosquitto loads its own plugin from this path.',
    `plugin ${DYNSEC_PLUGIN}`,
    `plugin_opt_config_file ${files.security}`,
    '# The recorder may be away a while: keep up to 100000 readings queued for it (Mosquitto: 1000),',
    '# and let it have 100 unacknowledged at once so that its batches fill (Mosquitto: 20).',
    'max_queued_messages 100000',
    'max_inflight_messages 100',
    '# Retained statuses, the recorder\'s session and its queued readings survive a broker restart.',
    'persistence true',
    `persistence_location ${dirname(files.security)}/`,
    '',
    `listener ${options.port} ${options.host}`,
    '',
    '# MQTT over WebSocket, for the console in the browser',
    `listener ${options.webSocketPort} ${options.host}`,
    'protocol websockets',
    '',
  ].join('\n');
}

/**
 * Writes the three files (secrets with mode 0600) and returns their absolute paths. An existing
 * dynamic-security file is kept and brought up to date (see demo-security.ts).
 */
export function writeDemoFiles(dir: string, topics: FleetTopics, logins: DemoLogins, options: DemoConfigOptions): DemoFiles {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const files: DemoFiles = { config: join(root, 'mosquitto.conf'), security: join(root, 'dynamic-security.json'), credentials: join(root, 'sensor-credentials') };
  writeDemoSecurity(files.security, topics, logins);
  writeFileSync(files.credentials, formatCredentials(logins.sensors), { mode: 0o600 });
  chmodSync(files.credentials, 0o600); // an existing file keeps its mode otherwise
  writeFileSync(files.config, demoConfig(files, options));
  return files;
}
