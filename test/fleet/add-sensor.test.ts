// The console's "Add a sensor" commands (src/fleet/console-web/sensor-role.js) sent over MQTT by
// MQTT.js, as the page sends them, to `culex broker -c` and to Debian's mosquitto with its
// dynamic-security plugin, both on the demo's dynamic-security file: the same answers from both;
// then the new sensor logs in and may write only its readings and read only its orders.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { addSensorSteps, sensorIdProblem, sensorsIn, type ControlMessage } from '../../src/fleet/console-web/sensor-role.js';
import { demoSecurityState, writeDemoSecurity } from '../../src/fleet/demo-security.js';
import type { DemoLogins } from '../../src/fleet/demo-files.js';
import { parseDynsecJson } from '../../src/auth/dynsec/file.js';
import { defaultTopics } from '../../src/fleet/topics.js';
import { startBroker, stopBroker, writeDynsecConfig, type BrokerKind } from '../helpers/dynsec.js';
import { Inbox } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';

const RESPONSE = '$CONTROL/dynamic-security/v1/response';
const logins: DemoLogins = {
  admin: { username: 'admin', password: 'admin-pw' },
  recorder: { username: 'recorder', password: 'recorder-pw' },
  sensors: new Map([['sensor-01', 'sensor-01-pw']]),
};

test('sensor ids: one topic level of letters, digits, ".", "_" and "-"; never a wildcard, a "/" or "all"', () => {
  for (const good of ['s42', 'sensor-01', 'Kitchen_2.b', 'x'.repeat(64)]) assert.equal(sensorIdProblem(good), undefined, good);
  for (const bad of ['', 'a/b', 's+', '#', 'sensor/#', '+', 'all', 'x'.repeat(65), 'é', 'a b', '$SYS']) assert.match(sensorIdProblem(bad) ?? '', /invalid sensor id|reserved/, bad);
});

test("the demo's file: made once, then kept with what the console added and the demo's logins renewed", () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-demo-security-'));
  try {
    const file = join(dir, 'dynamic-security.json');
    writeDemoSecurity(file, defaultTopics, logins);
    const state = parseDynsecJson(readFileSync(file, 'utf8'));
    state.clients.set('s42', { ...state.clients.get('sensor-01')!, username: 's42' }); // as if added at run time
    const renewed = { ...logins, admin: { username: 'admin', password: 'new-admin-pw' } };
    const again = demoSecurityState(state, defaultTopics, renewed);
    assert.deepEqual([...again.clients.keys()].sort(), ['admin', 'recorder', 's42', 'sensor-01']);
    assert.notDeepEqual(again.clients.get('admin')!.password, parseDynsecJson(readFileSync(file, 'utf8')).clients.get('admin')!.password);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Publishes one control message and waits for the answer whose first correlationData it sent. */
async function control(admin: MqttClient, inbox: Inbox, message: ControlMessage): Promise<unknown[]> {
  const tag = message.commands[0]!.correlationData;
  await admin.publishAsync('$CONTROL/dynamic-security/v1', JSON.stringify(message), { qos: 1 });
  for (let i = 0; i < 20; i++) {
    const { responses } = JSON.parse((await inbox.next(15_000)).payload) as { responses: { correlationData?: string }[] };
    if (responses[0]?.correlationData === tag) return responses;
  }
  throw new Error(`no answer to ${tag}`);
}

/** The PUBACK reason code of a QoS 1 publish (0 when accepted). */
async function publishCode(client: MqttClient, topic: string, payload: string): Promise<number> {
  const packet = await client.publishAsync(topic, payload, { qos: 1 }).catch((error: { code?: number }) => ({ reasonCode: error.code ?? -1 }));
  return (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
}

async function scenario(kind: BrokerKind): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), `culex-add-sensor-${kind}-`));
  const port = await findFreePort();
  const file = join(dir, 'dynamic-security.json');
  writeDemoSecurity(file, defaultTopics, logins);
  const broker = await startBroker(kind, writeDynsecConfig(dir, port, file), port);
  const clients: MqttClient[] = [];
  const connect = async (username: string, password: string): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 });
    clients.push(client);
    return client;
  };
  const seen: Record<string, unknown> = {};
  try {
    const admin = await connect('admin', 'admin-pw');
    const answers = new Inbox(admin);
    await admin.subscribeAsync(RESPONSE, { qos: 1 });
    const steps = addSensorSteps({ topics: defaultTopics, id: 's42', username: 's42', password: 's42-pw', tag: 'add-1' });
    seen.role = await control(admin, answers, steps.role);
    seen.client = await control(admin, answers, steps.client);
    // The same id again: the role exists, so the page stops there (no role is widened).
    seen.again = await control(admin, answers, addSensorSteps({ topics: defaultTopics, id: 's42', username: 'intruder', password: 'x', tag: 'add-2' }).role);
    // A new id for a username that exists: the client is refused and the new role deleted again.
    const taken = addSensorSteps({ topics: defaultTopics, id: 's43', username: 'recorder', password: 'x', tag: 'add-3' });
    seen.takenRole = await control(admin, answers, taken.role);
    seen.takenClient = await control(admin, answers, taken.client);
    seen.rollback = await control(admin, answers, taken.rollback);
    const [list] = (await control(admin, answers, { commands: [{ command: 'listClients', verbose: true, correlationData: 'list' }] })) as { data: unknown }[];
    seen.sensors = sensorsIn(list!.data);

    // The new sensor, as a real client.
    const recorder = await connect('recorder', 'recorder-pw');
    const stored = new Inbox(recorder);
    await recorder.subscribeAsync('sensor_data/#', { qos: 1 });
    const sensor = await connect('s42', 's42-pw');
    const orders = new Inbox(sensor);
    seen.ownSubscribe = (await sensor.subscribeAsync('config_change/s42', { qos: 1 })).map((g) => g.qos);
    seen.otherSubscribe = await sensor.subscribeAsync('config_change/sensor-01', { qos: 1 }).then(() => 'granted', (error: Error) => error.message);
    seen.publishOther = await publishCode(sensor, 'sensor_data/other', 'forged');
    seen.publishOwn = await publishCode(sensor, 'sensor_data/s42', 'reading');
    seen.recorderGot = (await stored.next(15_000)).topic; // the forged one would have come first
    assert.equal(await publishCode(admin, 'config_change/sensor-01', 'not yours'), 0);
    assert.equal(await publishCode(admin, 'config_change/s42', 'yours'), 0);
    seen.sensorGot = (await orders.next(15_000)).payload;
    seen.wrongPassword = await connect('s42', 'wrong').then(() => 'admitted', (error: Error) => error.message);
    return seen;
  } finally {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await stopBroker(broker);
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the console's add-sensor commands against culex broker and Debian's mosquitto with its plugin: same answers; the new sensor writes only sensor_data/s42 and reads config_change/s42", async (t) => {
  if (!needTools(t, ['mosquitto'])) return;
  const culex = await scenario('culex');
  assert.deepEqual(culex.role, [{ command: 'createRole', correlationData: 'add-1:role' }]);
  assert.deepEqual(culex.client, [{ command: 'createClient', correlationData: 'add-1:client' }]);
  assert.deepEqual(culex.again, [{ command: 'createRole', error: 'Role already exists', correlationData: 'add-2:role' }]);
  assert.deepEqual(culex.takenClient, [{ command: 'createClient', error: 'Client already exists', correlationData: 'add-3:client' }]);
  assert.deepEqual(culex.rollback, [{ command: 'deleteRole', correlationData: 'add-3:rollback' }]);
  assert.deepEqual(culex.sensors, [
    { id: 's42', username: 's42', disabled: false },
    { id: 'sensor-01', username: 'sensor-01', disabled: false },
  ]);
  assert.deepEqual(culex.ownSubscribe, [1]);
  assert.match(String(culex.otherSubscribe), /Not authorized/);
  assert.equal(culex.publishOther, 0x87);
  assert.equal(culex.publishOwn, 0);
  assert.equal(culex.recorderGot, 'sensor_data/s42');
  assert.equal(culex.sensorGot, 'yours');
  assert.match(String(culex.wrongPassword), /Not authorized|Bad User Name or Password/i);
  const mosquitto = await scenario('mosquitto');
  assert.deepEqual(culex, mosquitto);
});
