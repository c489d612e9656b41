// The demo's broker with its generated password file and ACL, tried with real MQTT.js clients:
// a sensor cannot publish as another sensor nor give orders; only the admin writes config_change.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { silentLogger } from '../../src/broker/logger.js';
import { parseCredentials } from '../../src/fleet/credentials-file.js';
import { startDemo, type RunningDemo } from '../../src/fleet/demo.js';
import type { SensorStatus } from '../../src/fleet/messages.js';
import { Inbox } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';

let dir: string;
let demo: RunningDemo;
let sensorPasswords: Map<string, string>;
const clients: MqttClient[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'culex-demo-acl-'));
  demo = await startDemo({
    port: await findFreePort(),
    webSocketPort: await findFreePort(),
    consolePort: await findFreePort(),
    sensors: 2,
    adminPassword: 'admin-secret',
    dataDir: dir,
    logger: silentLogger,
    report: () => {},
  });
  const parsed = parseCredentials(readFileSync(demo.files.credentials, 'utf8'), demo.files.credentials);
  assert.ok(typeof parsed !== 'string');
  sensorPasswords = parsed;
});

after(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  await demo.close();
  rmSync(dir, { recursive: true, force: true });
});

async function login(username: string | undefined, password: string | undefined, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(demo.brokerUrl, { username, password, protocolVersion: 5, reconnectPeriod: 0, ...extra });
  clients.push(client);
  return client;
}

/** The PUBACK reason code of a QoS 1 publish (0 when accepted). */
async function publishCode(client: MqttClient, topic: string, payload: string): Promise<number> {
  try {
    const packet = await client.publishAsync(topic, payload, { qos: 1 });
    return (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

describe('the demo ACL', () => {
  test('the generated files: secrets readable by their owner only, one user block per sensor', () => {
    assert.equal(statSync(demo.files.passwords).mode & 0o777, 0o600);
    assert.equal(statSync(demo.files.credentials).mode & 0o777, 0o600);
    const acl = readFileSync(demo.files.acl, 'utf8');
    assert.match(acl, /^user sensor-01\ntopic write sensor_data\/sensor-01\ntopic write sensor_status\/sensor-01\ntopic read config_change\/sensor-01\ntopic read config_change\/all$/m);
    assert.match(acl, /^user admin\n(topic .*\n)*topic readwrite config_change\/#$/m);
    assert.deepEqual([...sensorPasswords.keys()], ['sensor-01', 'sensor-02']);
  });

  test('no anonymous clients, no wrong passwords', async () => {
    await assert.rejects(login(undefined, undefined), /Not authorized|Bad User Name or Password/i);
    await assert.rejects(login('sensor-01', 'wrong'), /Not authorized|Bad User Name or Password/i);
    await assert.rejects(login('admin', sensorPasswords.get('sensor-01')), /Not authorized|Bad User Name or Password/i);
  });

  test('a sensor cannot publish as another sensor, nor on config_change; its own topic works', async () => {
    const admin = await login('admin', 'admin-secret');
    const watch = new Inbox(admin);
    await admin.subscribeAsync(['sensor_data/#', 'config_change/#'], { qos: 1 });
    // Even with the other sensor's client id, the login decides.
    const sensor = await login('sensor-01', sensorPasswords.get('sensor-01'), { clientId: 'impostor-of-sensor-02' });
    const forged = JSON.stringify({ sensor: 'sensor-02', ts: Date.now(), value: 99, unit: '%', seq: 1 });
    assert.equal(await publishCode(sensor, 'sensor_data/sensor-02', forged), 0x87);
    assert.equal(await publishCode(sensor, 'config_change/sensor-02', '{"enabled": false}'), 0x87);
    assert.equal(await publishCode(sensor, 'config_change/all', '{"enabled": false}'), 0x87);
    assert.equal(await publishCode(sensor, 'config_change/sensor-01', '{"sampleRateHz": 50}'), 0x87);
    assert.equal(await publishCode(sensor, 'sensor_status/sensor-02', '{"online": false}'), 0x87);
    const own = JSON.stringify({ sensor: 'sensor-01', ts: Date.now(), value: 1, unit: '°C', seq: 1 });
    assert.equal(await publishCode(sensor, 'sensor_data/sensor-01', own), 0);
    // Only the accepted reading reached anyone (the admin sees the real sensors' readings too).
    const seen = [];
    for (;;) {
      const message = await watch.next(10_000);
      if (message.payload === own) break;
      seen.push(message);
    }
    assert.deepEqual(seen.filter((m) => m.topic.startsWith('config_change/') || m.payload === forged), []);
    assert.ok(demo.fleet.sensors.every((s) => s.settings.enabled && s.settings.sampleRateHz === 1), 'no order got through');
  });

  test('a sensor reads only its own orders; the recorder cannot write readings; the admin gives orders to all', async () => {
    const sensor = await login('sensor-01', sensorPasswords.get('sensor-01'), { clientId: 'listener-sensor-01' });
    const inbox = new Inbox(sensor);
    await sensor.subscribeAsync(['config_change/#'], { qos: 1 });
    const recorder = await login(demo.logins.recorder.username, demo.logins.recorder.password, { clientId: 'recorder-impostor' });
    assert.equal(await publishCode(recorder, 'sensor_data/sensor-01', '{}'), 0x87);
    assert.equal(await publishCode(recorder, 'config_change/all', '{}'), 0x87);
    const admin = await login('admin', 'admin-secret');
    assert.equal(await publishCode(admin, 'config_change/sensor-02', '{"sensitivity": 2, "id": "to-two"}'), 0);
    assert.equal(await publishCode(admin, 'config_change/all', '{"sensitivity": 3, "id": "to-all"}'), 0);
    const received = await inbox.next(10_000);
    assert.equal(received.topic, 'config_change/all', 'the order to sensor-02 was not delivered to sensor-01');
    // And the real sensors applied the order to all.
    const status = await login('admin', 'admin-secret');
    const statuses = new Inbox(status);
    await status.subscribeAsync('sensor_status/#', { qos: 1 });
    const applied = new Set<string>();
    const deadline = Date.now() + 15_000;
    while (applied.size < 2 && Date.now() < deadline) {
      const message = JSON.parse((await statuses.next(15_000)).payload) as SensorStatus;
      if (message.lastChange === 'to-all' && message.sensitivity === 3) applied.add(message.sensor);
    }
    assert.deepEqual([...applied].sort(), ['sensor-01', 'sensor-02']);
  });
});

