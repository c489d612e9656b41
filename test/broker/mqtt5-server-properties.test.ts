// MQTT 5.0 on the wire: the CONNACK properties that tell a client what this broker allows (each
// from real configuration), reason strings on acknowledgements and Request Problem Information,
// inbound Receive Maximum, server redirection with 0x9D, and will properties forwarded.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import type { ConnectPacket, PublishPacket, QoS, SubscriptionRequest } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import type { Authorizer } from '../../src/auth/port.js';

const brokers: TestBroker[] = [];
after(() => Promise.all(brokers.map((broker) => broker.close())));

async function broker(options: Parameters<typeof startBroker>[0] = {}): Promise<TestBroker> {
  const started = await startBroker(options);
  brokers.push(started);
  return started;
}

let counter = 0;
const unique = (name: string): string => `${name}-${++counter}`;

function connectPacket(fields: Partial<ConnectPacket>): ConnectPacket {
  return { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: unique('c'), ...fields };
}

function sub(filter: string, qos: QoS = 1): SubscriptionRequest {
  return { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

function pub(topic: string, qos: QoS, packetId?: number): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from('x'), qos, retain: false, dup: false };
  if (qos > 0) packet.packetId = packetId ?? 1;
  return packet;
}

/** Denies publishing and subscribing under "secret/", allows the rest. */
const denySecret: Authorizer = {
  canPublish: (_client, topic) => !topic.startsWith('secret/'),
  canSubscribe: (_client, filter, qos) => (filter.startsWith('secret/') ? ReasonCode.NotAuthorized : qos),
  canReceive: () => true,
};

test('[MQTT-3.2.2-9] CONNACK carries Maximum QoS, Retain Available, Maximum Packet Size, Receive Maximum and Topic Alias Maximum from the configuration', async () => {
  const limited = await broker({ maxQos: 1, retainAvailable: false, maxPacketSize: 4096, receiveMaximum: 7, maxTopicAlias: 5 });
  const client = await RawClient.open(limited.port, 5);
  client.send(connectPacket({}));
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.properties?.maximumQoS, 1);
  assert.equal(connack.properties?.retainAvailable, 0);
  assert.equal(connack.properties?.maximumPacketSize, 4096);
  assert.equal(connack.properties?.receiveMaximum, 7);
  assert.equal(connack.properties?.topicAliasMaximum, 5);
  // Wildcards, subscription identifiers and shared subscriptions are all supported: the spec's
  // default (available) holds when the property is absent.
  assert.equal(connack.properties?.wildcardSubscriptionAvailable, undefined);
  assert.equal(connack.properties?.subscriptionIdentifiersAvailable, undefined);
  assert.equal(connack.properties?.sharedSubscriptionAvailable, undefined);
  client.destroy();
});

test('a broker with the defaults leaves out every CONNACK property whose default the spec already gives (MQTT 5.0 §3.2.2.3), and advertises Receive Maximum 1024', async () => {
  const plain = await broker();
  const client = await RawClient.open(plain.port, 5);
  client.send(connectPacket({}));
  const connack = await client.expect('connack');
  assert.equal(connack.properties?.maximumQoS, undefined, 'QoS 2 is supported');
  assert.equal(connack.properties?.retainAvailable, undefined, 'retain is available');
  assert.equal(connack.properties?.maximumPacketSize, undefined, 'no limit below the protocol maximum');
  assert.equal(connack.properties?.receiveMaximum, 1024, 'advertised so that clients honouring it stop before 0x93');
  client.destroy();
});

test('[MQTT-3.2.2-21] max_keepalive caps a longer keepalive with Server Keep Alive, and the broker enforces the capped value', async () => {
  const capped = await broker({ maxKeepalive: 1 });
  const client = await RawClient.open(capped.port, 5);
  client.send(connectPacket({ keepalive: 60 }));
  const connack = await client.expect('connack');
  assert.equal(connack.properties?.serverKeepAlive, 1);
  // 1.5 × 1 s without a packet: the broker closes with DISCONNECT 0x8D Keep Alive timeout
  const packets = await client.closedByBroker(5000);
  const disconnect = packets.find((packet) => packet.type === 'disconnect');
  assert.equal(disconnect?.type === 'disconnect' ? disconnect.reasonCode : undefined, ReasonCode.KeepAliveTimeout);
});

test('[MQTT-3.2.2-12] a will QoS above Maximum QoS is refused with CONNACK 0x9B QoS not supported', async () => {
  const limited = await broker({ maxQos: 1 });
  const client = await RawClient.open(limited.port, 5);
  client.send(connectPacket({ will: { topic: 'w', payload: Buffer.from('gone'), qos: 2, retain: false } }));
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, ReasonCode.QoSNotSupported);
  await client.closedByBroker();
});

test('[MQTT-3.2.2-11] a PUBLISH above Maximum QoS gets DISCONNECT 0x9B QoS not supported (MQTT 5.0 §3.2.2.3.4)', async () => {
  const limited = await broker({ maxQos: 1 });
  const client = await RawClient.connected(limited.port, { protocolVersion: 5 });
  client.send(pub('q2', 2));
  const packets = await client.closedByBroker();
  const disconnect = packets.find((packet) => packet.type === 'disconnect');
  assert.equal(disconnect?.type === 'disconnect' ? disconnect.reasonCode : undefined, ReasonCode.QoSNotSupported);
});

test('acknowledgements that report a problem carry a Reason String: PUBACK 0x87, SUBACK 0x87, UNSUBACK 0x11, PUBREL and PUBCOMP 0x92', async () => {
  const guarded = await broker({ authorizer: denySecret });
  const client = await RawClient.connected(guarded.port, { protocolVersion: 5 });
  client.send(pub('secret/a', 1, 11));
  const puback = await client.expect('puback');
  assert.equal(puback.reasonCode, ReasonCode.NotAuthorized);
  assert.match(puback.properties?.reasonString ?? '', /not authori[sz]ed/);

  client.send({ type: 'subscribe', packetId: 12, subscriptions: [sub('open/+'), sub('secret/#')] });
  const suback = await client.expect('suback');
  assert.deepEqual(suback.reasonCodes, [1, ReasonCode.NotAuthorized]);
  assert.match(suback.properties?.reasonString ?? '', /secret\/#/);

  client.send({ type: 'unsubscribe', packetId: 13, filters: ['open/+', 'never/subscribed'] });
  const unsuback = await client.expect('unsuback');
  assert.deepEqual(unsuback.reasonCodes, [ReasonCode.Success, ReasonCode.NoSubscriptionExisted]);
  assert.match(unsuback.properties?.reasonString ?? '', /never\/subscribed/);

  client.send({ type: 'pubrel', packetId: 14 });
  const pubcomp = await client.expect('pubcomp');
  assert.equal(pubcomp.reasonCode, ReasonCode.PacketIdentifierNotFound);
  assert.ok(pubcomp.properties?.reasonString);

  client.send({ type: 'pubrec', packetId: 15 });
  const pubrel = await client.expect('pubrel');
  assert.equal(pubrel.reasonCode, ReasonCode.PacketIdentifierNotFound);
  assert.ok(pubrel.properties?.reasonString);
  client.destroy();
});

test('[MQTT-3.1.2-29] with Request Problem Information 0 no acknowledgement carries a Reason String, but the reason codes stay', async () => {
  const guarded = await broker({ authorizer: denySecret });
  const client = await RawClient.connected(guarded.port, { protocolVersion: 5, properties: { requestProblemInformation: 0 } });
  client.send(pub('secret/a', 1, 21));
  const puback = await client.expect('puback');
  assert.equal(puback.reasonCode, ReasonCode.NotAuthorized);
  assert.equal(puback.properties?.reasonString, undefined);

  client.send({ type: 'subscribe', packetId: 22, subscriptions: [sub('secret/#')] });
  const suback = await client.expect('suback');
  assert.deepEqual(suback.reasonCodes, [ReasonCode.NotAuthorized]);
  assert.equal(suback.properties?.reasonString, undefined);

  client.send({ type: 'unsubscribe', packetId: 23, filters: ['never/subscribed'] });
  const unsuback = await client.expect('unsuback');
  assert.equal(unsuback.properties?.reasonString, undefined);

  client.send({ type: 'pubrel', packetId: 24 });
  const pubcomp = await client.expect('pubcomp');
  assert.equal(pubcomp.reasonCode, ReasonCode.PacketIdentifierNotFound);
  assert.equal(pubcomp.properties?.reasonString, undefined);
  client.destroy();
});

test('a Reason String that would make an acknowledgement larger than the client Maximum Packet Size is left out', async () => {
  const guarded = await broker({ authorizer: denySecret });
  const client = await RawClient.connected(guarded.port, { protocolVersion: 5, properties: { maximumPacketSize: 16 } });
  client.send(pub('secret/a', 1, 31));
  const puback = await client.expect('puback');
  assert.equal(puback.reasonCode, ReasonCode.NotAuthorized);
  assert.equal(puback.properties?.reasonString, undefined);
  client.destroy();
});

test('[MQTT-3.1.2-25] a SUBACK with many reason codes leaves its Reason String out where the two together would exceed the client Maximum Packet Size', async () => {
  const guarded = await broker({ authorizer: denySecret });
  // 100 granted filters and one refused: 106 bytes without the Reason String, 125 with it
  const limit = 115;
  const client = await RawClient.connected(guarded.port, { protocolVersion: 5, properties: { maximumPacketSize: limit } });
  const filters = [...Array.from({ length: 100 }, (_, i) => sub(`open/${i}`)), sub('secret/#')];
  client.send({ type: 'subscribe', packetId: 77, subscriptions: filters });
  const suback = await client.expect('suback');
  assert.equal(suback.reasonCodes.length, 101);
  assert.equal(suback.reasonCodes[100], ReasonCode.NotAuthorized);
  assert.equal(suback.properties?.reasonString, undefined);
  // the same refusal alone fits with its Reason String
  client.send({ type: 'subscribe', packetId: 78, subscriptions: [sub('secret/#')] });
  const alone = await client.expect('suback');
  assert.match(alone.properties?.reasonString ?? '', /secret\/#/);
  client.destroy();
});

test('[MQTT-3.3.4-7] inbound flow control: more unacknowledged QoS 2 PUBLISHes than the advertised Receive Maximum get DISCONNECT 0x93 (MQTT 5.0 §3.3.4)', async () => {
  const small = await broker({ receiveMaximum: 2 });
  const client = await RawClient.connected(small.port, { protocolVersion: 5 });
  // PUBREC comes back for each, but without PUBREL the flows stay open
  client.send(pub('flow', 2, 1));
  client.send(pub('flow', 2, 2));
  assert.equal((await client.expect('pubrec')).packetId, 1);
  assert.equal((await client.expect('pubrec')).packetId, 2);
  client.send(pub('flow', 2, 3));
  const packets = await client.closedByBroker();
  const disconnect = packets.find((packet) => packet.type === 'disconnect');
  assert.equal(disconnect?.type === 'disconnect' ? disconnect.reasonCode : undefined, ReasonCode.ReceiveMaximumExceeded);
});

test('a completed QoS 2 flow frees its place in the Receive Maximum window', async () => {
  const small = await broker({ receiveMaximum: 1 });
  const client = await RawClient.connected(small.port, { protocolVersion: 5 });
  for (let id = 1; id <= 3; id++) {
    client.send(pub('flow', 2, id));
    assert.equal((await client.expect('pubrec')).packetId, id);
    client.send({ type: 'pubrel', packetId: id });
    assert.equal((await client.expect('pubcomp')).packetId, id);
  }
  assert.equal(client.closed, false);
  client.destroy();
});

test('server redirection: with serverMoved the CONNACK is 0x9D Server moved with the Server Reference (MQTT 5.0 §4.11)', async () => {
  const moved = await broker({ serverReference: 'mqtt.example.net:1883', serverMoved: true });
  const client = await RawClient.open(moved.port, 5);
  client.send(connectPacket({}));
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, ReasonCode.ServerMoved);
  assert.equal(connack.properties?.serverReference, 'mqtt.example.net:1883');
  await client.closedByBroker();
});

test('[MQTT-3.1.2-8] [MQTT-3.1.3-10] a will is published with its properties: user properties in order, content type, response topic, correlation data, payload format', async () => {
  const plain = await broker();
  const topic = unique('will');
  const watcher = await RawClient.connected(plain.port, { protocolVersion: 5 });
  watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(topic, 0)] });
  await watcher.expect('suback');
  const properties = {
    userProperties: [
      ['b', '2'],
      ['a', '1'],
      ['b', '3'],
    ] as [string, string][],
    contentType: 'application/json',
    responseTopic: 'replies/x',
    correlationData: Buffer.from([1, 2, 3]),
    payloadFormatIndicator: 1 as const,
  };
  const dying = await RawClient.connected(plain.port, {
    protocolVersion: 5,
    will: { topic, payload: Buffer.from('{"online":false}'), qos: 0, retain: false, properties },
  });
  dying.destroy(); // no DISCONNECT: the will goes out
  const will = await watcher.expect('publish', 3000);
  assert.equal(will.payload.toString(), '{"online":false}');
  assert.deepEqual(will.properties?.userProperties, properties.userProperties);
  assert.equal(will.properties?.contentType, 'application/json');
  assert.equal(will.properties?.responseTopic, 'replies/x');
  assert.deepEqual(will.properties?.correlationData, Buffer.from([1, 2, 3]));
  assert.equal(will.properties?.payloadFormatIndicator, 1);
  watcher.destroy();
});

test('a will with a Message Expiry Interval is forwarded with the remaining interval (MQTT 5.0 §3.1.3.2.4)', async () => {
  const plain = await broker();
  const topic = unique('will-expiry');
  const watcher = await RawClient.connected(plain.port, { protocolVersion: 5 });
  watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(topic, 0)] });
  await watcher.expect('suback');
  const dying = await RawClient.connected(plain.port, {
    protocolVersion: 5,
    will: { topic, payload: Buffer.from('bye'), qos: 0, retain: false, properties: { messageExpiryInterval: 120 } },
  });
  dying.destroy();
  const will = await watcher.expect('publish', 3000);
  const remaining = will.properties?.messageExpiryInterval ?? 0;
  assert.ok(remaining > 0 && remaining <= 120, `remaining interval ${remaining}`);
  watcher.destroy();
});
