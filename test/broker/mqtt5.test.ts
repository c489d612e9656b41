// MQTT 5.0 broker features on the wire: subscription options and identifiers, shared subscriptions,
// flow control, packet size, expiry, will delay, topic aliases, redirection and response information.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import type { ConnectPacket, Properties, PublishPacket, QoS, SubscriptionRequest } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker({ responseInformationPrefix: 'responses' });
});
after(() => broker.close());

let counter = 0;
const unique = (name: string): string => `${name}-${++counter}`;
const v5 = (fields: Partial<ConnectPacket> = {}): Promise<RawClient> => RawClient.connected(broker.port, { protocolVersion: 5, ...fields });

function sub(filter: string, options: Partial<SubscriptionRequest> = {}): SubscriptionRequest {
  return { filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, ...options };
}

function pub(topic: string, payload: string, qos: QoS = 0, options: { retain?: boolean; packetId?: number; properties?: Properties } = {}): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: options.retain ?? false, dup: false };
  if (qos > 0) packet.packetId = options.packetId ?? 1;
  if (options.properties) packet.properties = options.properties;
  return packet;
}

async function subscribe(client: RawClient, subscriptions: SubscriptionRequest[], properties?: Properties): Promise<number[]> {
  client.send({ type: 'subscribe', packetId: 1, subscriptions, ...(properties ? { properties } : {}) });
  return (await client.expect('suback')).reasonCodes;
}

test('[MQTT-3.8.3-3] No Local: a client does not receive its own publications', async () => {
  const topic = unique('nolocal');
  const client = await v5();
  await subscribe(client, [sub(topic, { noLocal: true, qos: 0 })]);
  const other = await v5();
  client.send(pub(topic, 'mine'));
  other.send(pub(topic, 'theirs'));
  const got = await client.expect('publish');
  assert.equal(got.payload.toString(), 'theirs');
  assert.ok(await client.nothingWithin(150));
  client.destroy();
  other.destroy();
});

test('[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published keeps the retain flag; without it the flag is cleared', async () => {
  const topic = unique('rap');
  const keeps = await v5();
  await subscribe(keeps, [sub(topic, { retainAsPublished: true, qos: 0 })]);
  const clears = await v5();
  await subscribe(clears, [sub(topic, { qos: 0 })]);
  const publisher = await v5();
  publisher.send(pub(topic, 'r', 0, { retain: true }));
  assert.equal((await keeps.expect('publish')).retain, true);
  assert.equal((await clears.expect('publish')).retain, false);
  for (const c of [keeps, clears, publisher]) c.destroy();
});

test('[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] Retain Handling 0 sends retained, 1 only on a new subscription, 2 never', async () => {
  const topic = unique('rh');
  const publisher = await v5();
  publisher.send(pub(topic, 'kept', 1, { retain: true }));
  await publisher.expect('puback');
  const rh0 = await v5();
  await subscribe(rh0, [sub(topic, { retainHandling: 0 })]);
  assert.equal((await rh0.expect('publish')).payload.toString(), 'kept');
  const rh1 = await v5();
  await subscribe(rh1, [sub(topic, { retainHandling: 1, qos: 0 })]);
  assert.equal((await rh1.expect('publish')).retain, true);
  await subscribe(rh1, [sub(topic, { retainHandling: 1, qos: 0 })]);
  assert.ok(await rh1.nothingWithin(150), 'retained resent to an existing subscription with Retain Handling 1');
  const rh2 = await v5();
  await subscribe(rh2, [sub(topic, { retainHandling: 2 })]);
  assert.ok(await rh2.nothingWithin(150), 'retained sent with Retain Handling 2');
  for (const c of [publisher, rh0, rh1, rh2]) c.destroy();
});

test('[MQTT-3.3.4-3] [MQTT-3.3.4-4] every matching subscription identifier is on the delivered PUBLISH', async () => {
  const base = unique('subid');
  const client = await v5();
  await subscribe(client, [sub(`${base}/+`, { qos: 0 })], { subscriptionIdentifiers: [11] });
  await subscribe(client, [sub(`${base}/#`, { qos: 0 })], { subscriptionIdentifiers: [22] });
  const publisher = await v5();
  publisher.send(pub(`${base}/x`, 'x'));
  const got = await client.expect('publish');
  assert.deepEqual([...(got.properties?.subscriptionIdentifiers ?? [])].sort((a, b) => a - b), [11, 22]);
  client.destroy();
  publisher.destroy();
});

test('shared subscription: each message goes to one member of the group, round robin (MQTT 5.0 §4.8.2)', async () => {
  const topic = unique('shared');
  const a = await v5();
  const b = await v5();
  await subscribe(a, [sub(`$share/g/${topic}`, { qos: 0 })]);
  await subscribe(b, [sub(`$share/g/${topic}`, { qos: 0 })]);
  const publisher = await v5();
  for (let i = 0; i < 4; i++) publisher.send(pub(topic, `m${i}`));
  const got = [(await a.expect('publish')).payload.toString(), (await a.expect('publish')).payload.toString(), (await b.expect('publish')).payload.toString(), (await b.expect('publish')).payload.toString()];
  assert.deepEqual(got.sort(), ['m0', 'm1', 'm2', 'm3']);
  assert.ok(await a.nothingWithin(100));
  for (const c of [a, b, publisher]) c.destroy();
});

test('shared subscription: no retained messages are sent on subscribe (MQTT 5.0 §4.8.2)', async () => {
  const topic = unique('shared-retained');
  const publisher = await v5();
  publisher.send(pub(topic, 'kept', 1, { retain: true }));
  await publisher.expect('puback');
  const member = await v5();
  await subscribe(member, [sub(`$share/g/${topic}`)]);
  assert.ok(await member.nothingWithin(150));
  member.destroy();
  publisher.destroy();
});

test('shared subscription: a QoS 1 message unacknowledged by a member whose session ends goes to another member (MQTT 5.0 §4.8.2)', async () => {
  const topic = unique('shared-redeliver');
  const a = await v5();
  await subscribe(a, [sub(`$share/g/${topic}`)]);
  const publisher = await v5();
  publisher.send(pub(topic, 'unacked', 1));
  await publisher.expect('puback');
  const first = await a.expect('publish');
  assert.equal(first.payload.toString(), 'unacked');
  const b = await v5();
  await subscribe(b, [sub(`$share/g/${topic}`)]);
  assert.ok(await b.nothingWithin(100));
  a.destroy(); // Session Expiry Interval 0: the session ends with the connection, A never sent PUBACK
  const moved = await b.expect('publish');
  assert.equal(moved.payload.toString(), 'unacked');
  assert.equal(moved.qos, 1);
  assert.equal(moved.dup, false);
  b.send({ type: 'puback', packetId: moved.packetId!, reasonCode: 0 });
  assert.ok(await b.nothingWithin(100));
  for (const c of [b, publisher]) c.destroy();
});

test('shared subscription: a member that keeps its session gets its unacknowledged message again on reconnect, not another member', async () => {
  const topic = unique('shared-keep');
  const clientId = unique('keeper');
  const a = await v5({ clientId, properties: { sessionExpiryInterval: 60 } });
  await subscribe(a, [sub(`$share/g/${topic}`)]);
  const publisher = await v5();
  publisher.send(pub(topic, 'kept', 1));
  await a.expect('publish');
  const b = await v5();
  await subscribe(b, [sub(`$share/g/${topic}`)]);
  a.destroy();
  assert.ok(await b.nothingWithin(200));
  const back = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  const again = await back.expect('publish');
  assert.equal(again.payload.toString(), 'kept');
  assert.equal(again.dup, true);
  back.send({ type: 'puback', packetId: again.packetId!, reasonCode: 0 });
  back.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  for (const c of [b, publisher]) c.destroy();
});

test('[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error', async () => {
  const client = await v5();
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('$share/g/t', { noLocal: true })] });
  const packets = await client.closedByBroker();
  assert.equal(packets[0]?.type, 'disconnect');
});

test('[MQTT-3.3.4-9] the broker sends no more unacknowledged QoS 1 messages than the client Receive Maximum', async () => {
  const topic = unique('flow');
  const client = await v5({ properties: { receiveMaximum: 2 } });
  await subscribe(client, [sub(topic)]);
  const publisher = await v5();
  for (let i = 1; i <= 5; i++) publisher.send(pub(topic, `m${i}`, 1, { packetId: i }));
  const first = await client.expect('publish');
  const second = await client.expect('publish');
  assert.ok(await client.nothingWithin(200), 'a third message arrived before any PUBACK');
  client.send({ type: 'puback', packetId: first.packetId! });
  const third = await client.expect('publish');
  assert.equal(third.payload.toString(), 'm3');
  client.send({ type: 'puback', packetId: second.packetId! });
  client.send({ type: 'puback', packetId: third.packetId! });
  assert.equal((await client.expect('publish')).payload.toString(), 'm4');
  client.destroy();
  publisher.destroy();
});

test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client Maximum Packet Size is not sent to it', async () => {
  const topic = unique('maxsize');
  const small = await v5({ properties: { maximumPacketSize: 64 } });
  await subscribe(small, [sub(topic, { qos: 0 })]);
  const publisher = await v5();
  publisher.send(pub(topic, 'x'.repeat(200)));
  publisher.send(pub(topic, 'small'));
  assert.equal((await small.expect('publish')).payload.toString(), 'small');
  small.destroy();
  publisher.destroy();
});

test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] message expiry: expired messages are not delivered, the rest carry the remaining interval', async () => {
  const topic = unique('expiry');
  const clientId = unique('expiry-client');
  const first = await v5({ clientId, clean: true, properties: { sessionExpiryInterval: 60 } });
  await subscribe(first, [sub(topic)]);
  first.send({ type: 'disconnect' });
  await first.closedByBroker();
  const publisher = await v5();
  publisher.send(pub(topic, 'short', 1, { packetId: 1, properties: { messageExpiryInterval: 1 } }));
  publisher.send(pub(topic, 'long', 1, { packetId: 2, properties: { messageExpiryInterval: 60 } }));
  await publisher.expect('puback');
  await publisher.expect('puback');
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const back = await RawClient.open(broker.port, 5);
  back.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: false, keepalive: 0, clientId, properties: { sessionExpiryInterval: 60 } });
  assert.equal((await back.expect('connack')).sessionPresent, true);
  const got = await back.expect('publish');
  assert.equal(got.payload.toString(), 'long');
  const remaining = got.properties?.messageExpiryInterval ?? 0;
  assert.ok(remaining > 0 && remaining < 60, `remaining interval ${remaining}`);
  assert.ok(await back.nothingWithin(150));
  back.destroy();
  publisher.destroy();
});

test('session expiry: a session ends Session Expiry Interval seconds after its connection (MQTT 5.0 §3.1.2.11.2)', async () => {
  const clientId = unique('expires');
  const first = await v5({ clientId, properties: { sessionExpiryInterval: 1 } });
  await subscribe(first, [sub(unique('t'))]);
  first.destroy();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const soon = await RawClient.open(broker.port, 5);
  soon.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: false, keepalive: 0, clientId, properties: { sessionExpiryInterval: 1 } });
  assert.equal((await soon.expect('connack')).sessionPresent, true);
  soon.destroy();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const late = await RawClient.open(broker.port, 5);
  late.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: false, keepalive: 0, clientId });
  assert.equal((await late.expect('connack')).sessionPresent, false);
  late.destroy();
});

test('DISCONNECT raising Session Expiry Interval from 0 is a protocol error (MQTT 5.0 §3.14.2.2.2)', async () => {
  const client = await v5();
  client.send({ type: 'disconnect', properties: { sessionExpiryInterval: 30 } });
  const packets = await client.closedByBroker();
  assert.deepEqual(packets.map((p) => p.type), ['disconnect']);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x82);
});

test('[MQTT-3.1.3-9] a will with a delay is not sent when the client reconnects in time', async () => {
  const topic = unique('delayed-will');
  const clientId = unique('will-client');
  const watcher = await v5();
  await subscribe(watcher, [sub(topic, { qos: 0 })]);
  const will = { topic, payload: Buffer.from('gone'), qos: 0 as QoS, retain: false, properties: { willDelayInterval: 1 } };
  const first = await v5({ clientId, will, properties: { sessionExpiryInterval: 30 } });
  first.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const again = await RawClient.open(broker.port, 5);
  again.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: false, keepalive: 0, clientId, will, properties: { sessionExpiryInterval: 30 } });
  await again.expect('connack');
  assert.ok(await watcher.nothingWithin(1300), 'the will was sent although the client came back');
  const lostAt = Date.now();
  again.destroy();
  assert.equal((await watcher.expect('publish', 3000)).payload.toString(), 'gone');
  assert.ok(Date.now() - lostAt >= 900, 'the will came before its delay');
  watcher.destroy();
});

test('[MQTT-3.3.2-12] a topic alias set by the client is resolved on later PUBLISHes', async () => {
  const topic = unique('alias');
  const watcher = await v5();
  await subscribe(watcher, [sub(topic, { qos: 0 })]);
  const client = await v5();
  client.send(pub(topic, 'first', 0, { properties: { topicAlias: 3 } }));
  client.send(pub('', 'second', 0, { properties: { topicAlias: 3 } }));
  assert.equal((await watcher.expect('publish')).topic, topic);
  const second = await watcher.expect('publish');
  assert.equal(second.topic, topic);
  assert.equal(second.properties?.topicAlias, undefined);
  watcher.destroy();
  client.destroy();
});

test('a topic alias above Topic Alias Maximum gets DISCONNECT 0x94', async () => {
  const client = await v5();
  client.send(pub('t', 'x', 0, { properties: { topicAlias: 11 } }));
  const packets = await client.closedByBroker();
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x94);
});

test('topicAliasOut: the broker sends a topic once with an alias, then an empty topic with the alias', async () => {
  const aliasing = await startBroker({ topicAliasOut: true });
  try {
    const client = await RawClient.connected(aliasing.port, { protocolVersion: 5, properties: { topicAliasMaximum: 2 } });
    await subscribe(client, [sub('a/#', { qos: 0 })]);
    const publisher = await RawClient.connected(aliasing.port, { protocolVersion: 5 });
    for (const topic of ['a/1', 'a/1', 'a/2', 'a/3', 'a/2']) publisher.send(pub(topic, topic));
    const got: [string, number | undefined, string][] = [];
    for (let i = 0; i < 5; i++) {
      const p = await client.expect('publish');
      got.push([p.topic, p.properties?.topicAlias, p.payload.toString()]);
    }
    // a/3 reuses the alias of the least recently used topic, a/1
    assert.deepEqual(got, [
      ['a/1', 1, 'a/1'],
      ['', 1, 'a/1'],
      ['a/2', 2, 'a/2'],
      ['a/3', 1, 'a/3'],
      ['', 2, 'a/2'],
    ]);
    client.destroy();
    publisher.destroy();
  } finally {
    await aliasing.close();
  }
});

test('[MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-11] topicAliasOut: no alias for a client without Topic Alias Maximum, none above its maximum', async () => {
  const aliasing = await startBroker({ topicAliasOut: true });
  try {
    const none = await RawClient.connected(aliasing.port, { protocolVersion: 5 });
    await subscribe(none, [sub('b/#', { qos: 0 })]);
    const one = await RawClient.connected(aliasing.port, { protocolVersion: 5, properties: { topicAliasMaximum: 1 } });
    await subscribe(one, [sub('b/#', { qos: 1 })]);
    const publisher = await RawClient.connected(aliasing.port, { protocolVersion: 5 });
    for (let i = 0; i < 6; i++) publisher.send(pub(`b/${i % 3}`, `${i}`, 1, { packetId: i + 1 }));
    for (let i = 0; i < 6; i++) {
      const plain = await none.expect('publish');
      assert.equal(plain.topic, `b/${i % 3}`);
      assert.equal(plain.properties?.topicAlias, undefined);
      const aliased = await one.expect('publish');
      assert.equal(aliased.properties?.topicAlias, 1);
      assert.equal(aliased.topic, `b/${i % 3}`, 'with one alias and a new topic each time, the topic is always sent');
      one.send({ type: 'puback', packetId: aliased.packetId!, reasonCode: 0 });
    }
    for (const c of [none, one, publisher]) c.destroy();
  } finally {
    await aliasing.close();
  }
});

test('topic aliases toward clients are off by default (topicAliasOut false)', async () => {
  const topic = unique('noalias');
  const client = await v5({ properties: { topicAliasMaximum: 10 } });
  await subscribe(client, [sub(topic, { qos: 0 })]);
  const publisher = await v5();
  publisher.send(pub(topic, '1'));
  publisher.send(pub(topic, '2'));
  for (let i = 0; i < 2; i++) {
    const got = await client.expect('publish');
    assert.equal(got.topic, topic);
    assert.equal(got.properties?.topicAlias, undefined);
  }
  client.destroy();
  publisher.destroy();
});

test('user properties, content type, response topic and correlation data are forwarded unchanged', async () => {
  const topic = unique('props');
  const watcher = await v5();
  await subscribe(watcher, [sub(topic, { qos: 0 })]);
  const client = await v5();
  const properties: Properties = {
    userProperties: [['b', '2'], ['a', '1'], ['b', '3']],
    contentType: 'application/json',
    responseTopic: 'reply/here',
    correlationData: Buffer.from([1, 2, 3]),
    payloadFormatIndicator: 1,
  };
  client.send(pub(topic, '{}', 0, { properties }));
  const got = await watcher.expect('publish');
  assert.deepEqual(got.properties?.userProperties, properties.userProperties);
  assert.equal(got.properties?.contentType, 'application/json');
  assert.equal(got.properties?.responseTopic, 'reply/here');
  assert.deepEqual([...(got.properties?.correlationData ?? [])], [1, 2, 3]);
  assert.equal(got.properties?.payloadFormatIndicator, 1);
  watcher.destroy();
  client.destroy();
});

test('a payload marked UTF-8 that is not is refused with 0x99 Payload format invalid', async () => {
  const client = await v5();
  client.send({ ...pub('t', '', 1, { properties: { payloadFormatIndicator: 1 } }), payload: Buffer.from([0xff, 0xfe]) });
  assert.equal((await client.expect('puback')).reasonCode, 0x99);
  client.destroy();
});

test('PUBACK says 0x10 No matching subscribers when nobody subscribes', async () => {
  const client = await v5();
  client.send(pub(unique('nobody'), 'x', 1));
  assert.equal((await client.expect('puback')).reasonCode, 0x10);
  client.destroy();
});

test('Response Information is given when requested and configured', async () => {
  const client = await RawClient.open(broker.port, 5);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: 'asks', properties: { requestResponseInformation: 1 } });
  assert.equal((await client.expect('connack')).properties?.responseInformation, 'responses/asks');
  client.destroy();
});

test('server redirection: CONNACK 0x9C Use another server with a Server Reference', async () => {
  const redirecting = await startBroker({ serverReference: 'other.example:1883' });
  const client = await RawClient.open(redirecting.port, 5);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: 'r' });
  const packets = await client.closedByBroker();
  const connack = packets[0] as { type: string; reasonCode: number; properties?: Properties };
  assert.equal(connack.reasonCode, 0x9c);
  assert.equal(connack.properties?.serverReference, 'other.example:1883');
  await redirecting.close();
});

test('graceful stop: v5 clients get DISCONNECT 0x8B Server shutting down', async () => {
  const stopping = await startBroker();
  const client = await RawClient.connected(stopping.port, { protocolVersion: 5 });
  await stopping.close();
  const packets = await client.closedByBroker();
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x8b);
});

test('the subscription quota counts the filters of one SUBSCRIBE as they are granted (0x97 Quota exceeded)', async () => {
  const limited = await startBroker({ maxSubscriptionsPerClient: 2 });
  const client = await RawClient.connected(limited.port, { protocolVersion: 5 });
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('one'), sub('two'), sub('three'), sub('one')] });
  assert.deepEqual((await client.expect('suback')).reasonCodes, [1, 1, 0x97, 1]);
  client.destroy();
  await limited.close();
});

test('a PUBLISH topic with more levels than the limit is refused with 0x90 and not delivered', async () => {
  const limited = await startBroker({ maxTopicLevels: 3 });
  const watcher = await RawClient.connected(limited.port, { protocolVersion: 5 });
  watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('#', { qos: 0 })] });
  await watcher.expect('suback');
  const client = await RawClient.connected(limited.port, { protocolVersion: 5 });
  client.send(pub('a/b/c/d', 'deep', 1));
  assert.equal((await client.expect('puback')).reasonCode, 0x90);
  client.send(pub('a/b/c', 'ok', 1, { packetId: 2 }));
  assert.equal((await watcher.expect('publish')).topic, 'a/b/c');
  watcher.destroy();
  client.destroy();
  await limited.close();
});
