// CONNECT / CONNACK, keepalive, takeover and connection-level protocol rules, on the wire.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import type { ConnectPacket } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker({ connectTimeout: 1 });
});
after(() => broker.close());

const connect = (fields: Partial<ConnectPacket>): ConnectPacket => ({
  type: 'connect',
  protocolName: 'MQTT',
  protocolVersion: 4,
  bridge: false,
  clean: true,
  keepalive: 0,
  clientId: 'c',
  ...fields,
});

test('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async () => {
  const client = await RawClient.open(broker.port);
  client.send({ type: 'pingreq' });
  assert.deepEqual(await client.closedByBroker(), []);
});

test('[MQTT-3.1.0-2] a second CONNECT is a protocol violation and closes the connection', async () => {
  const client = await RawClient.connected(broker.port, { clientId: 'second-connect' });
  client.send(connect({ clientId: 'second-connect' }));
  assert.deepEqual(await client.closedByBroker(), []);
});

test('[MQTT-3.1.0-2] v5: a second CONNECT closes the connection without a DISCONNECT, as Mosquitto does', async () => {
  const client = await RawClient.connected(broker.port, { clientId: 'second-connect-v5', protocolVersion: 5 });
  client.send({ ...connect({ clientId: 'second-connect-v5' }), protocolVersion: 5 });
  assert.deepEqual(await client.closedByBroker(), []);
});

test('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and the connection closes', async () => {
  const client = await RawClient.open(broker.port);
  // CONNECT, protocol name "MQTT", level 6, clean session, keepalive 60, client id "x"
  client.sendBytes([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x78]);
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.deepEqual(packets[0], { type: 'connack', sessionPresent: false, reasonCode: 1 });
});

test('[MQTT-3.1.3-8] an empty client id with CleanSession 0 gets CONNACK 0x02 (3.1.1)', async () => {
  const client = await RawClient.open(broker.port);
  client.send(connect({ clientId: '', clean: false }));
  const packets = await client.closedByBroker();
  assert.equal(packets[0]?.type, 'connack');
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 2);
});

test('[MQTT-3.1.3-6] an empty client id with CleanSession 1 is accepted (3.1.1)', async () => {
  const client = await RawClient.open(broker.port);
  client.send(connect({ clientId: '' }));
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, 0);
  client.destroy();
});

test('[MQTT-3.2.2-16] an empty client id in v5 is assigned one, returned in CONNACK', async () => {
  const client = await RawClient.open(broker.port, 5);
  client.send(connect({ clientId: '', protocolVersion: 5 }));
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, 0);
  assert.match(connack.properties?.assignedClientIdentifier ?? '', /^auto-[0-9A-F-]{36}$/);
  client.destroy();
});

test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', async () => {
  const client = await RawClient.connected(broker.port);
  client.send({ type: 'pingreq' });
  await client.expect('pingresp');
  client.destroy();
});

test('[MQTT-3.1.2-24] no packet within 1.5 × keepalive closes the connection', async () => {
  const client = await RawClient.connected(broker.port, { keepalive: 1 });
  const started = Date.now();
  await client.closedByBroker(4000);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1400, `closed after ${elapsed} ms, before 1.5 × keepalive`);
});

test('[MQTT-3.1.2-22] v5: keepalive timeout is reported with DISCONNECT 0x8D', async () => {
  const client = await RawClient.connected(broker.port, { keepalive: 1, protocolVersion: 5 });
  const packets = await client.closedByBroker(4000);
  assert.deepEqual(packets, [{ type: 'disconnect', reasonCode: 0x8d }]);
});

test('a socket that never sends CONNECT is closed after the connect timeout', async () => {
  const client = await RawClient.open(broker.port);
  assert.deepEqual(await client.closedByBroker(3000), []);
});

test('[MQTT-3.1.4-2] a second connection with the same client id closes the first (3.1.1)', async () => {
  const first = await RawClient.connected(broker.port, { clientId: 'takeover-v4' });
  const second = await RawClient.connected(broker.port, { clientId: 'takeover-v4' });
  assert.deepEqual(await first.closedByBroker(), []);
  second.send({ type: 'pingreq' });
  await second.expect('pingresp');
  second.destroy();
});

test('[MQTT-3.1.4-3] v5: the taken-over connection gets DISCONNECT 0x8E Session taken over', async () => {
  const first = await RawClient.connected(broker.port, { clientId: 'takeover-v5', protocolVersion: 5 });
  const second = await RawClient.connected(broker.port, { clientId: 'takeover-v5', protocolVersion: 5 });
  assert.deepEqual(await first.closedByBroker(), [{ type: 'disconnect', reasonCode: 0x8e }]);
  second.destroy();
});

test('[MQTT-3.2.2-1] [MQTT-3.2.2-2] Session Present reflects stored session state (3.1.1)', async () => {
  const a = await RawClient.open(broker.port);
  a.send(connect({ clientId: 'present', clean: false }));
  assert.equal((await a.expect('connack')).sessionPresent, false);
  a.send({ type: 'disconnect' });
  await a.closedByBroker();
  const b = await RawClient.open(broker.port);
  b.send(connect({ clientId: 'present', clean: false }));
  assert.equal((await b.expect('connack')).sessionPresent, true);
  b.send({ type: 'disconnect' });
  await b.closedByBroker();
  const c = await RawClient.open(broker.port);
  c.send(connect({ clientId: 'present', clean: true }));
  assert.equal((await c.expect('connack')).sessionPresent, false);
  c.destroy();
});

test('[MQTT-4.13.1-1] a malformed packet closes only its own connection', async () => {
  const bystander = await RawClient.connected(broker.port, { clientId: 'bystander' });
  const bad = await RawClient.connected(broker.port, { clientId: 'bad', protocolVersion: 5 });
  bad.sendBytes([0x36, 0x00]); // PUBLISH with QoS 3
  const packets = await bad.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]?.type, 'disconnect');
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x81);
  bystander.send({ type: 'pingreq' });
  await bystander.expect('pingresp');
  bystander.destroy();
});

test('after a client DISCONNECT the broker closes the connection and sends nothing back', async () => {
  const client = await RawClient.connected(broker.port, { protocolVersion: 5 });
  client.send({ type: 'disconnect' });
  assert.deepEqual(await client.closedByBroker(), []);
});
