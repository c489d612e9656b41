// The demo's broker with its generated dynamic-security file, tried with real MQTT.js clients:
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

interface DynsecFileJson {
  defaultACLAccess: Record<string, boolean>;
  clients: { username: string; roles: { rolename: string }[] }[];
  roles: { rolename: string; acls: { acltype: string; topic: string; allow: boolean }[] }[];
}

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
  test('the generated files: secrets readable by their owner only, one dynamic-security role per sensor', () => {
    assert.equal(statSync(demo.files.security).mode & 0o777, 0o600);
    assert.equal(statSync(demo.files.credentials).mode & 0o777, 0o600);
    const conf = readFileSync(demo.files.config, 'utf8');
    assert.match(conf, /^plugin \S*mosquitto_dynamic_security\.so$/m);
    assert.ok(conf.includes(`\nplugin_opt_config_file ${demo.files.security}\n`));
    assert.doesNotMatch(conf, /^(password_file|acl_file) /m);
    const security = JSON.parse(readFileSync(demo.files.security, 'utf8')) as DynsecFileJson;
    assert.deepEqual(security.defaultACLAccess, { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true });
    assert.deepEqual(security.clients.map((c) => [c.username, c.roles.map((r) => r.rolename)]).sort(), [
      ['admin', ['admin', 'fleet-operator']],
      ['recorder', ['recorder']],
      ['sensor-01', ['sensor:sensor-01']],
      ['sensor-02', ['sensor:sensor-02']],
    ]);
    const role = security.roles.find((r) => r.rolename === 'sensor:sensor-01')!;
    assert.deepEqual(role.acls.map((a) => `${a.acltype} ${a.topic} ${a.allow}`).sort(), [
      'publishClientReceive config_change/all true',
      'publishClientReceive config_change/sensor-01 true',
      'publishClientSend sensor_data/sensor-01 true',
      'publishClientSend sensor_status/sensor-01 true',
      'subscribeLiteral config_change/all true',
      'subscribeLiteral config_change/sensor-01 true',
    ]);
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
    // Its own orders and the orders to all; another sensor's orders or a wildcard: SUBACK 0x87.
    await sensor.subscribeAsync(['config_change/sensor-01', 'config_change/all'], { qos: 1 });
    for (const filter of ['config_change/sensor-02', 'config_change/#']) {
      await assert.rejects(sensor.subscribeAsync(filter, { qos: 1 }), /Not authorized/, filter);
    }
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

