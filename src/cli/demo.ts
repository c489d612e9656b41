// `culex demo` (npm run demo): the whole sensor fleet in one command, until Ctrl-C.

import { startDemo } from '../fleet/demo.js';
import { parseFlags, untilSignal } from './long-flags.js';

const usage = `Usage: culex demo [options]

Starts a broker (dynamic security: each sensor writes only sensor_data/<id>, reads only
config_change/<id> and config_change/all; only the admin writes config_change and adds sensors),
N simulated sensors, the recorder (SQLite) and the web console, and prints the console's address.
Sensors added from the console stay in DIR/dynamic-security.json for the next run.

 --port P            MQTT over TCP (default 1883)
 --ws-port P         MQTT over WebSocket, used by the console (default 8083)
 --console-port P    the console's web page (default 8080)
 --host ADDR         interface for all three (default 127.0.0.1; 0.0.0.0 opens them to the network)
 --sensors N         how many sensors (default 5)
 --rate HZ           their initial sampling rate (default 1)
 --admin-user U      the console's and the operator's broker login (default admin)
 --admin-password P  its password (default: a random one, printed)
 --data DIR          files and database (default ./data/demo)
 --help              this text
`;

const flagSpecs = {
  port: { kind: 'integer', min: 1, max: 65535 },
  'ws-port': { kind: 'integer', min: 1, max: 65535 },
  'console-port': { kind: 'integer', min: 1, max: 65535 },
  host: { kind: 'string' },
  sensors: { kind: 'integer', min: 1, max: 1000 },
  rate: { kind: 'number', min: 0.01, max: 100 },
  'admin-user': { kind: 'string' },
  'admin-password': { kind: 'string' },
  data: { kind: 'string' },
  help: { kind: 'boolean' },
} as const;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, flagSpecs);
  if (typeof parsed === 'string' || parsed.positional.length > 0) {
    process.stderr.write(`culex demo: ${typeof parsed === 'string' ? parsed : `unexpected '${parsed.positional[0]}'`}\n\n${usage}`);
    return 1;
  }
  const { flags } = parsed;
  if (flags.help) {
    process.stdout.write(usage);
    return 0;
  }
  const demo = await startDemo({
    port: flags.port,
    webSocketPort: flags['ws-port'],
    consolePort: flags['console-port'],
    host: flags.host,
    sensors: flags.sensors,
    sampleRateHz: flags.rate,
    adminUser: flags['admin-user'],
    adminPassword: flags['admin-password'],
    dataDir: flags.data,
  });
  const { files } = demo;
  const generated = flags['admin-password'] === undefined ? '   (generated; --admin-password sets one)' : '';
  process.stdout.write(
    [
      'Culex sensor fleet demo',
      `  console    ${demo.consoleUrl}`,
      `  login      ${demo.admin.username} / ${demo.admin.password}${generated}`,
      `  broker     ${demo.brokerUrl}   (WebSocket ${demo.webSocketUrl})`,
      `  sensors    ${demo.sensorIds.join(', ')}`,
      `  database   ${demo.database}   (culex recorder query --db ${demo.database} --since 10m)`,
      `  files      ${files.config}, ${files.security}, ${files.credentials}`,
      '',
      `Order a sensor:  culex pub -p ${new URL(demo.brokerUrl).port} -u ${demo.admin.username} -P '…' -t config_change/${demo.sensorIds[0]} -m '{"sampleRateHz": 5}'`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  await untilSignal(() => demo.close());
  return 0;
}
