// PUBLISH at every QoS, retained messages, overlapping subscriptions, wills and sessions, on the wire.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import type { PublishPacket, QoS } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.close());

let nextId = 0;
const unique = (name: string): string => `${name}-${++nextId}`;

function publish(topic: string, payload: string, qos: QoS = 0, retain = false, packetId?: number): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false };
  if (qos > 0) packet.packetId = packetId ?? 1;
  return packet;
}

async function subscriber(filter: string | string[], qos: QoS = 2, clientId = unique('sub')): Promise<RawClient> {
  const client = await RawClient.connected(broker.port, { clientId });
  const filters = Array.isArray(filter) ? filter : [filter];
  client.send({ type: 'subscribe', packetId: 1, subscriptions: filters.map((f) => ({ filter: f, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 })) });
  await client.expect('suback');
  return client;
}

test('[MQTT-4.3.1-1] QoS 0 is delivered at QoS 0 without acknowledgement', async () => {
  const topic = unique('q0');
  const sub = await subscriber(topic);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'hello'));
  const got = await sub.expect('publish');
  assert.equal(got.qos, 0);
  assert.equal(got.payload.toString(), 'hello');
  sub.destroy();
  pub.destroy();
});

test('[MQTT-4.3.2-1] [MQTT-4.3.2-2] QoS 1 is acknowledged with PUBACK and delivered with a packet id', async () => {
  const topic = unique('q1');
  const sub = await subscriber(topic, 1);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'one', 1, false, 7));
  assert.equal((await pub.expect('puback')).packetId, 7);
  const got = await sub.expect('publish');
  assert.equal(got.qos, 1);
  assert.ok(got.packetId! > 0);
  sub.send({ type: 'puback', packetId: got.packetId! });
  sub.destroy();
  pub.destroy();
});

test('[MQTT-4.3.3-2] QoS 2: PUBREC, and a resent PUBLISH before PUBREL is not delivered twice', async () => {
  const topic = unique('q2');
  const sub = await subscriber(topic, 2);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'two', 2, false, 9));
  assert.equal((await pub.expect('pubrec')).packetId, 9);
  pub.send({ ...publish(topic, 'two', 2, false, 9), dup: true });
  assert.equal((await pub.expect('pubrec')).packetId, 9);
  pub.send({ type: 'pubrel', packetId: 9 });
  assert.equal((await pub.expect('pubcomp')).packetId, 9);
  const got = await sub.expect('publish');
  assert.equal(got.qos, 2);
  sub.send({ type: 'pubrec', packetId: got.packetId! });
  assert.equal((await sub.expect('pubrel')).packetId, got.packetId);
  sub.send({ type: 'pubcomp', packetId: got.packetId! });
  assert.ok(await sub.nothingWithin(200), 'the duplicate PUBLISH was delivered');
  sub.destroy();
  pub.destroy();
});

test('[MQTT-3.8.4-6] delivered QoS is the minimum of published and granted QoS', async () => {
  const topic = unique('min');
  const sub = await subscriber(topic, 1);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'x', 2, false, 3));
  await pub.expect('pubrec');
  const got = await sub.expect('publish');
  assert.equal(got.qos, 1);
  sub.destroy();
  pub.destroy();
});

test('[MQTT-3.3.5-1] overlapping subscriptions deliver one copy at the maximum granted QoS', async () => {
  const base = unique('overlap');
  const sub = await RawClient.connected(broker.port);
  sub.send({
    type: 'subscribe',
    packetId: 2,
    subscriptions: [
      { filter: `${base}/#`, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      { filter: `${base}/+`, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ],
  });
  assert.deepEqual((await sub.expect('suback')).reasonCodes, [0, 1]);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(`${base}/a`, 'x', 1, false, 4));
  const got = await sub.expect('publish');
  assert.equal(got.qos, 1);
  assert.ok(await sub.nothingWithin(200), 'a second copy was delivered');
  sub.destroy();
  pub.destroy();
});

test('[MQTT-4.7.2-1] topics starting with $ are not matched by leading wildcards', async () => {
  const hash = await subscriber('#', 0);
  const plus = await subscriber('+/x', 0);
  const dollar = await subscriber('$internal/#', 0);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish('$internal/x', 'secret'));
  assert.equal((await dollar.expect('publish')).topic, '$internal/x');
  assert.ok(await hash.nothingWithin(150));
  assert.ok(await plus.nothingWithin(50));
  for (const c of [hash, plus, dollar, pub]) c.destroy();
});

test('[MQTT-3.3.1-8] [MQTT-3.3.1-9] retained: retain flag set on subscribe delivery, cleared on live delivery', async () => {
  const topic = unique('retained');
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'kept', 1, true, 5));
  await pub.expect('puback');
  const live = await subscriber(topic, 1);
  const first = await live.expect('publish');
  assert.equal(first.retain, true);
  assert.equal(first.payload.toString(), 'kept');
  live.send({ type: 'puback', packetId: first.packetId! });
  pub.send(publish(topic, 'again', 0, true));
  const second = await live.expect('publish');
  assert.equal(second.retain, false);
  live.destroy();
  pub.destroy();
});

test('[MQTT-3.3.1-10] [MQTT-3.3.1-11] a retained empty payload clears the retained message', async () => {
  const topic = unique('clear');
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'kept', 0, true));
  pub.send(publish(topic, '', 0, true));
  pub.send({ type: 'pingreq' });
  await pub.expect('pingresp');
  const sub = await subscriber(topic, 0);
  assert.ok(await sub.nothingWithin(200));
  sub.destroy();
  pub.destroy();
});

test('[MQTT-3.3.1-6] retained messages are matched by wildcard subscriptions', async () => {
  const base = unique('rw');
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(`${base}/a/1`, 'a1', 0, true));
  pub.send(publish(`${base}/b/1`, 'b1', 0, true));
  pub.send({ type: 'pingreq' });
  await pub.expect('pingresp');
  const sub = await subscriber(`${base}/+/1`, 0);
  const topics = [(await sub.expect('publish')).topic, (await sub.expect('publish')).topic].sort();
  assert.deepEqual(topics, [`${base}/a/1`, `${base}/b/1`]);
  sub.destroy();
  pub.destroy();
});

test('[MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT', async () => {
  const topic = unique('will');
  const sub = await subscriber(topic, 1);
  const dying = await RawClient.connected(broker.port, { will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
  dying.destroy();
  const will = await sub.expect('publish');
  assert.equal(will.payload.toString(), 'gone');
  assert.equal(will.qos, 1);
  sub.destroy();
});

test('[MQTT-3.14.4-3] the will is discarded on DISCONNECT', async () => {
  const topic = unique('nowill');
  const sub = await subscriber(topic, 1);
  const leaving = await RawClient.connected(broker.port, { will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
  leaving.send({ type: 'disconnect' });
  await leaving.closedByBroker();
  assert.ok(await sub.nothingWithin(300));
  sub.destroy();
});

test('[MQTT-3.1.2-5] a persistent session queues QoS 1 messages while away and delivers them on reconnect', async () => {
  const topic = unique('queued');
  const clientId = unique('persistent');
  const first = await RawClient.connected(broker.port, { clientId, clean: false });
  first.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: topic, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await first.expect('suback');
  first.send({ type: 'disconnect' });
  await first.closedByBroker();
  const pub = await RawClient.connected(broker.port);
  for (let i = 1; i <= 3; i++) {
    pub.send(publish(topic, `m${i}`, 1, false, i));
    await pub.expect('puback');
  }
  const back = await RawClient.open(broker.port);
  back.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: false, keepalive: 0, clientId });
  assert.equal((await back.expect('connack')).sessionPresent, true);
  const payloads: string[] = [];
  for (let i = 0; i < 3; i++) {
    const got = await back.expect('publish');
    payloads.push(got.payload.toString());
    back.send({ type: 'puback', packetId: got.packetId! });
  }
  assert.deepEqual(payloads, ['m1', 'm2', 'm3']);
  back.destroy();
  pub.destroy();
});

test('[MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged messages are resent with DUP and their packet id on reconnect', async () => {
  const topic = unique('resend');
  const clientId = unique('resend-client');
  const first = await RawClient.connected(broker.port, { clientId, clean: false });
  first.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: topic, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await first.expect('suback');
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'unacked', 1, false, 1));
  await pub.expect('puback');
  const original = await first.expect('publish');
  assert.equal(original.dup, false);
  first.destroy(); // no PUBACK
  await new Promise((resolve) => setTimeout(resolve, 100));
  const back = await RawClient.open(broker.port);
  back.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: false, keepalive: 0, clientId });
  await back.expect('connack');
  const again = await back.expect('publish');
  assert.equal(again.dup, true);
  assert.equal(again.packetId, original.packetId);
  assert.equal(again.payload.toString(), 'unacked');
  back.destroy();
  pub.destroy();
});

test('[MQTT-3.10.4-1] after UNSUBSCRIBE nothing more is delivered', async () => {
  const topic = unique('unsub');
  const sub = await subscriber(topic, 0);
  sub.send({ type: 'unsubscribe', packetId: 3, filters: [topic] });
  assert.equal((await sub.expect('unsuback')).packetId, 3);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'x'));
  assert.ok(await sub.nothingWithin(200));
  sub.destroy();
  pub.destroy();
});

test('[MQTT-3.8.4-3] a subscription with an identical filter replaces the existing one', async () => {
  const topic = unique('replace');
  const sub = await subscriber(topic, 0);
  sub.send({ type: 'subscribe', packetId: 2, subscriptions: [{ filter: topic, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  assert.deepEqual((await sub.expect('suback')).reasonCodes, [1]);
  const pub = await RawClient.connected(broker.port);
  pub.send(publish(topic, 'x', 1, false, 2));
  const got = await sub.expect('publish');
  assert.equal(got.qos, 1);
  assert.ok(await sub.nothingWithin(150));
  sub.destroy();
  pub.destroy();
});

test('[MQTT-3.9.3-2] an invalid filter is refused with 0x80 in SUBACK (3.1.1)', async () => {
  const sub = await RawClient.connected(broker.port);
  sub.send({
    type: 'subscribe',
    packetId: 5,
    subscriptions: [
      { filter: 'a/#/b', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      { filter: 'ok/+', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ],
  });
  assert.deepEqual((await sub.expect('suback')).reasonCodes, [0x80, 2]);
  sub.destroy();
});
