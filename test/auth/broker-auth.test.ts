// End to end: a Culex broker with a password file and an ACL file, driven by MQTT.js clients.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AclFile } from '../../src/auth/acl-file.js';
import { hashPassword, PasswordFile } from '../../src/auth/password-file.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';

const acl = `user recorder
topic read sensor_data/#

user admin
topic write config_change/#
topic readwrite retained/#

pattern write sensor_data/%u
pattern read config_change/%u
pattern read retained/%u
`;

let scratch = '';
let broker: TestBroker;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'culex-auth-e2e-'));
  const users = { 'sensor-1': 'one', 'sensor-2': 'two', recorder: 'rec', admin: 'adm' };
  const lines = await Promise.all(Object.entries(users).map(async ([user, pw]) => `${user}:${await hashPassword(pw)}`));
  writeFileSync(join(scratch, 'passwd'), `${lines.join('\n')}\n`);
  writeFileSync(join(scratch, 'acl'), acl);
  broker = await startBroker({
    authenticator: await PasswordFile.load(join(scratch, 'passwd'), { allowAnonymous: false, failureDelayMs: 0 }),
    authorizer: await AclFile.load(join(scratch, 'acl')),
  });
});
after(async () => {
  await broker.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('password file and ACL file in a running broker', () => {
  test('a wrong password is refused with CONNACK 5 (v3.1.1) and 0x87 (v5)', async () => {
    await assert.rejects(connectPeer(broker.url, { username: 'sensor-1', password: 'bad', protocolVersion: 4 }), { code: 5 });
    await assert.rejects(connectPeer(broker.url, { username: 'sensor-1', password: 'bad', protocolVersion: 5 }), { code: 0x87 });
    await assert.rejects(connectPeer(broker.url, { username: 'nobody', password: 'one', protocolVersion: 4 }), { code: 5 });
    await assert.rejects(connectPeer(broker.url, { protocolVersion: 4 }), { code: 5 });
  });

  test('a denied PUBLISH is acknowledged and dropped; an allowed one is delivered', async () => {
    const recorder = await connectPeer(broker.url, { username: 'recorder', password: 'rec', clientId: 'rec-1' });
    const sensor = await connectPeer(broker.url, { username: 'sensor-1', password: 'one', clientId: 's1', protocolVersion: 5 });
    try {
      await recorder.client.subscribeAsync('sensor_data/#', { qos: 1 });
      // PUBACK with 0x87 Not authorized: MQTT.js turns it into a rejection.
      await assert.rejects(sensor.client.publishAsync('sensor_data/sensor-2', 'forged', { qos: 1 }), { code: 0x87 });
      await sensor.client.publishAsync('sensor_data/sensor-1', '21.5', { qos: 1 });
      const got = await recorder.inbox.next();
      assert.deepEqual([got.topic, got.payload], ['sensor_data/sensor-1', '21.5']);
      assert.equal(await recorder.inbox.nothingWithin(100), true);
    } finally {
      await endPeers(recorder, sensor);
    }
  });

  test('a message the subscriber may not read is not delivered to it', async () => {
    const sensor1 = await connectPeer(broker.url, { username: 'sensor-1', password: 'one', clientId: 's1r' });
    const admin = await connectPeer(broker.url, { username: 'admin', password: 'adm', clientId: 'adm' });
    try {
      const granted = await sensor1.client.subscribeAsync('config_change/#', { qos: 1 });
      assert.equal(granted[0]?.qos, 1, 'Mosquitto 2.0 semantics: SUBSCRIBE is granted');
      await admin.client.publishAsync('config_change/sensor-2', 'not for you', { qos: 1 });
      await admin.client.publishAsync('config_change/sensor-1', 'interval=5', { qos: 1 });
      const got = await sensor1.inbox.next();
      assert.deepEqual([got.topic, got.payload], ['config_change/sensor-1', 'interval=5']);
      assert.equal(await sensor1.inbox.nothingWithin(100), true);
    } finally {
      await endPeers(sensor1, admin);
    }
  });

  test('retained messages are filtered by read access on subscribe', async () => {
    const admin = await connectPeer(broker.url, { username: 'admin', password: 'adm', clientId: 'adm-r' });
    await admin.client.publishAsync('retained/sensor-1', 'mine', { qos: 1, retain: true });
    await admin.client.publishAsync('retained/sensor-2', 'theirs', { qos: 1, retain: true });
    const sensor = await connectPeer(broker.url, { username: 'sensor-1', password: 'one', clientId: 's1-ret' });
    try {
      await sensor.client.subscribeAsync('retained/#', { qos: 1 });
      const got = await sensor.inbox.next();
      assert.deepEqual([got.topic, got.payload, got.packet.retain], ['retained/sensor-1', 'mine', true]);
      assert.equal(await sensor.inbox.nothingWithin(150), true);
    } finally {
      await endPeers(admin, sensor);
    }
  });
});
