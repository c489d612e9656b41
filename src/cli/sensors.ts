// `culex sensors`: N simulated sensors on one broker until Ctrl-C (each then publishes its offline
// status and disconnects).

import { readCredentials } from '../fleet/credentials-file.js';
import { rateLimits, sensitivityLimits } from '../fleet/messages.js';
import { SensorFleet } from '../fleet/sensor-fleet.js';
import { fleetCommandArgs, topicFlags, topicUsage } from './fleet-topics.js';
import { untilSignal } from './long-flags.js';

const usage = `Usage: culex sensors [--broker URL] [-n N] [options]

Simulated sensors (temperature, humidity, pressure, co2, light in turn), each its own MQTT client
with client id = sensor id, publishing {sensor, ts, value, unit, seq} on sensor_data/<id> and obeying
{"sampleRateHz": x, "sensitivity": y, "enabled": true|false} on config_change/<id> and config_change/all.

 --broker URL      broker to connect to (default mqtt://127.0.0.1:1883; ws://… works too)
 -n, --count N     how many sensors (default 5)
 --prefix P        sensor ids are P01, P02, … (default sensor-)
 --rate HZ         initial sampling rate (default 1)
 --sensitivity X   initial sensitivity (default 1)
 --qos 0|1         QoS of the readings (default 1)
 -u, --username U  one login for every sensor…
 -P, --password P
 --credentials F   …or one per sensor: lines "sensor-id:password", username = sensor id
${topicUsage}
 --help            this text
`;

const flagSpecs = {
  broker: { kind: 'string' },
  count: { kind: 'integer', short: '-n', min: 1, max: 10_000 },
  prefix: { kind: 'string' },
  rate: { kind: 'number', min: rateLimits.min, max: rateLimits.max },
  sensitivity: { kind: 'number', min: sensitivityLimits.min, max: sensitivityLimits.max },
  qos: { kind: 'integer', min: 0, max: 1 },
  username: { kind: 'string', short: '-u' },
  password: { kind: 'string', short: '-P' },
  credentials: { kind: 'string' },
  help: { kind: 'boolean' },
  ...topicFlags,
} as const;

export async function main(argv: string[]): Promise<number> {
  const args = fleetCommandArgs('sensors', argv, flagSpecs, usage);
  if (typeof args === 'number') return args;
  const { flags, topics } = args;
  const logins = flags.credentials === undefined ? undefined : readCredentials(flags.credentials);
  if (typeof logins === 'string') {
    process.stderr.write(`culex sensors: ${logins}\n`);
    return 1;
  }
  const credentials = (id: string): { username: string; password: string } | undefined => {
    const own = logins?.get(id);
    if (own !== undefined) return { username: id, password: own };
    if (flags.username !== undefined) return { username: flags.username, password: flags.password ?? '' };
    return undefined;
  };
  const url = flags.broker ?? 'mqtt://127.0.0.1:1883';
  const fleet = await SensorFleet.start({
    count: flags.count ?? 5,
    url,
    idPrefix: flags.prefix,
    topics,
    settings: { sampleRateHz: flags.rate ?? 1, sensitivity: flags.sensitivity ?? 1, enabled: true },
    qos: flags.qos === 0 ? 0 : 1,
    credentials,
    report: (sensor, message) => process.stderr.write(`${sensor}: ${message}\n`),
  });
  for (const sensor of fleet.sensors) process.stdout.write(`${sensor.id} publishing on ${topics.data}/${sensor.id} at ${sensor.settings.sampleRateHz} Hz\n`);
  process.stdout.write(`${fleet.sensors.length} sensors connected to ${url}; Ctrl-C stops them\n`);
  await untilSignal(() => fleet.stop());
  return 0;
}
