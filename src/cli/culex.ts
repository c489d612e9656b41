#!/usr/bin/env node
// The `culex` command: dispatches to one module per subcommand, each a thin layer over the library.

import { version } from './version.js';

const commands: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> }> = {
  broker: { summary: 'run the MQTT broker (like mosquitto)', load: () => import('./broker.js') },
  pub: { summary: 'publish a message (like mosquitto_pub)', load: () => import('./pub.js') },
  sub: { summary: 'subscribe and print messages (like mosquitto_sub)', load: () => import('./sub.js') },
  rr: { summary: 'request/response (like mosquitto_rr)', load: () => import('./rr.js') },
  cluster: { summary: 'show the nodes of a cluster (culex cluster status)', load: () => import('./cluster.js') },
  passwd: { summary: 'manage a password file (like mosquitto_passwd)', load: () => import('./passwd.js') },
  sensors: { summary: 'simulated sensors publishing on sensor_data/<id>', load: () => import('./sensors.js') },
  recorder: { summary: 'record sensor_data/# into SQLite or PostgreSQL; query it', load: () => import('./recorder.js') },
  console: { summary: 'the fleet\'s web console (MQTT over WebSocket in the browser)', load: () => import('./console.js') },
  demo: { summary: 'broker + sensors + recorder + console in one command', load: () => import('./demo.js') },
  ctrl: { summary: 'dynamic security: make a file, manage clients/groups/roles (like mosquitto_ctrl)', load: () => import('./ctrl.js') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  culex ${name.padEnd(8)} ${c.summary}`);
  return `culex ${version()}: an MQTT broker and toolkit\n\nUsage:\n${lines.join('\n')}\n\nRun 'culex <command> --help' for a command's options.\n`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`culex: unknown command '${name}'\n\n${usage()}`);
    return 1;
  }
  return (await command.load()).main(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`culex: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
