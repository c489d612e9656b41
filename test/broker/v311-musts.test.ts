// MQTT 3.1.1 server MUSTs on the wire, one behaviour per test, each titled with the statement it
// proves in the MQTT 3.1.1 numbering (marked "(3.1.1)"), where it differs from MQTT 5.0's.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { Authenticator, Authorizer } from '../../src/auth/port.js';
import type { ConnackPacket, ConnectPacket, Packet, PublishPacket, QoS, SubscriptionRequest } from '../../src/protocol/packets.js';

/** Users: "user" with password "secret"; anyone else is refused. Topics under "denied/" may not be published to. */
const guard: Authenticator & Authorizer = {
  authenticate: (request) => ({ reasonCode: request.username === 'user' && request.password?.toString() === 'secret' ? 0 : 0x86 }),
  canPublish: (_client, topic) => !topic.startsWith('denied/'),
  canSubscribe: (_client, _filter, qos) => qos,
  canReceive: () => true,
};

let broker: TestBroker;
before(async () => {
  broker = await startBroker({ authenticator: guard, authorizer: guard });
});
after(() => broker.close());

let counter = 0;
const unique = (name: string): string => `${name}-${++counter}`;

function connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
  return { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId: unique('c'), username: 'user', password: Buffer.from('secret'), ...fields };
}

async function open(fields: Partial<ConnectPacket> = {}): Promise<{ client: RawClient; connack: ConnackPacket }> {
  const client = await RawClient.open(broker.port, 4);
  client.send(connectPacket(fields));
  return { client, connack: await client.expect('connack') };
}

const v4 = (fields: Partial<ConnectPacket> = {}): Promise<RawClient> => RawClient.connected(broker.port, { username: 'user', password: Buffer.from('secret'), ...fields });

function sub(filter: string, qos: QoS = 2): SubscriptionRequest {
  return { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

function pub(topic: string, payload: string, qos: QoS = 0, options: { retain?: boolean; packetId?: number } = {}): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: options.retain ?? false, dup: false };
  if (qos > 0) packet.packetId = options.packetId ?? 1;
  return packet;
}

async function subscribe(client: RawClient, subscriptions: SubscriptionRequest[], packetId = 1): Promise<number[]> {
  client.send({ type: 'subscribe', packetId, subscriptions });
  return (await client.expect('suback')).reasonCodes;
}

/** The 3.1.1 encoding of a packet with `marker` (ASCII) replaced by 0xFF bytes: ill-formed UTF-8. */
function withIllFormedUtf8(packet: Packet, marker: string): Buffer {
  const bytes = encodePacket(packet, 4);
  const at = bytes.indexOf(marker);
  assert.ok(at >= 0);
  bytes.fill(0xff, at, at + marker.length);
  return bytes;
}

/** A 3.1.1 CONNECT built by hand: Connect Flags as given, then the payload strings as written. */
function rawConnect(flags: number, fields: (string | Buffer)[]): Buffer {
  const parts = fields.map((field) => {
    const bytes = typeof field === 'string' ? Buffer.from(field) : field;
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
  });
  const body = Buffer.concat([Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0x00, 0x00]), ...parts]);
  assert.ok(body.length < 128);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Sends bytes on a fresh connection and returns what the broker sent before closing it. */
async function refusedBytes(bytes: Buffer): Promise<Packet[]> {
  const client = await RawClient.open(broker.port, 4);
  client.sendBytes(bytes);
  return client.closedByBroker();
}

// ---- data representation and fixed header ------------------------------------------------------

test('[MQTT-1.5.3-1] (3.1.1) a topic or filter that is not well-formed UTF-8 closes the connection', async () => {
  const publisher = await v4();
  publisher.sendBytes(withIllFormedUtf8(pub('bad/QQ', 'x'), 'QQ'));
  assert.deepEqual(await publisher.closedByBroker(), []);
  const subscriber = await v4();
  subscriber.sendBytes(withIllFormedUtf8({ type: 'subscribe', packetId: 1, subscriptions: [sub('bad/QQ')] }, 'QQ'));
  assert.deepEqual(await subscriber.closedByBroker(), []);
});

test('[MQTT-1.5.3-2] (3.1.1) a string containing U+0000 closes the connection', async () => {
  const publisher = await v4();
  publisher.send(pub('nul/\u0000/x', 'x'));
  assert.deepEqual(await publisher.closedByBroker(), []);
  const subscriber = await v4();
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('nul/\u0000')] });
  assert.deepEqual(await subscriber.closedByBroker(), []);
});

test('[MQTT-1.5.3-3] (3.1.1) a BOM in a topic is kept as U+FEFF, never stripped', async () => {
  const base = unique('bom');
  const receiver = await v4();
  await subscribe(receiver, [sub(`\ufeff${base}`, 0)]);
  const sender = await v4();
  sender.send(pub(base, 'without'));
  sender.send(pub(`\ufeff${base}`, 'with'));
  const got = await receiver.expect('publish');
  assert.equal(got.topic, `\ufeff${base}`);
  assert.equal(got.payload.toString(), 'with');
  assert.ok(await receiver.nothingWithin(150));
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-2.2.2-2] (3.1.1) invalid fixed-header flags close the connection', async () => {
  // SUBSCRIBE, UNSUBSCRIBE and PUBREL with flags 0000 instead of 0010; PINGREQ and DISCONNECT with 0001
  const packets = [
    [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00],
    [0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61],
    [0x60, 0x02, 0x00, 0x01],
    [0xc1, 0x00],
    [0xe1, 0x00],
  ];
  for (const bytes of packets) {
    const client = await v4();
    client.sendBytes(bytes);
    assert.deepEqual(await client.closedByBroker(), [], Buffer.from(bytes).toString('hex'));
  }
});

// ---- CONNECT / CONNACK -------------------------------------------------------------------------

test('[MQTT-3.1.2-6] (3.1.1) CleanSession 1 discards the previous session, and its own ends with the connection', async () => {
  const clientId = unique('clean');
  const topic = unique('clean-topic');
  const first = await v4({ clientId, clean: false });
  await subscribe(first, [sub(topic, 1)]);
  first.send({ type: 'disconnect' });
  await first.closedByBroker();
  const cleaned = await open({ clientId, clean: true });
  assert.equal(cleaned.connack.sessionPresent, false);
  const sender = await v4();
  sender.send(pub(topic, 'old subscription', 1));
  assert.equal((await sender.expect('puback')).packetId, 1);
  assert.ok(await cleaned.client.nothingWithin(150), 'the discarded subscription still delivers');
  cleaned.client.send({ type: 'disconnect' });
  await cleaned.client.closedByBroker();
  const after = await open({ clientId, clean: false });
  assert.equal(after.connack.sessionPresent, false);
  after.client.send({ type: 'disconnect' });
  await after.client.closedByBroker();
  await open({ clientId, clean: true }).then(({ client }) => client.destroy());
  sender.destroy();
});

test('[MQTT-3.1.2-7] (3.1.1) retained messages are not part of the session and outlive it', async () => {
  const topic = unique('outlives');
  const publisher = await v4({ clean: true });
  publisher.send(pub(topic, 'kept', 1, { retain: true }));
  await publisher.expect('puback');
  publisher.send({ type: 'disconnect' });
  await publisher.closedByBroker();
  const receiver = await v4();
  await subscribe(receiver, [sub(topic, 0)]);
  const got = await receiver.expect('publish');
  assert.equal(got.payload.toString(), 'kept');
  assert.equal(got.retain, true);
  receiver.destroy();
});

test('[MQTT-3.1.2-16] (3.1.1) a will with Will Retain 0 is published as a non-retained message', async () => {
  const topic = unique('will0');
  const watcher = await v4();
  await subscribe(watcher, [sub(topic, 0)]);
  const { client } = await open({ will: { topic, payload: Buffer.from('gone'), qos: 0, retain: false } });
  client.destroy();
  const got = await watcher.expect('publish');
  assert.equal(got.payload.toString(), 'gone');
  const late = await v4();
  await subscribe(late, [sub(topic, 0)]);
  assert.ok(await late.nothingWithin(150), 'the will was retained');
  watcher.destroy();
  late.destroy();
});

test('[MQTT-3.1.2-17] (3.1.1) a will with Will Retain 1 is published as a retained message', async () => {
  const topic = unique('will1');
  const watcher = await v4();
  await subscribe(watcher, [sub(topic, 0)]);
  const { client } = await open({ will: { topic, payload: Buffer.from('last'), qos: 0, retain: true } });
  client.destroy();
  await watcher.expect('publish'); // published: the retained copy is in place
  const late = await v4();
  await subscribe(late, [sub(topic, 0)]);
  const got = await late.expect('publish');
  assert.equal(got.payload.toString(), 'last');
  assert.equal(got.retain, true);
  watcher.destroy();
  late.destroy();
});

test('[MQTT-3.1.2-18] [MQTT-3.1.2-20] (3.1.1) a User Name or Password present without its flag makes the CONNECT malformed', async () => {
  // flags: clean session only, then a client id and a stray string
  assert.deepEqual(await refusedBytes(rawConnect(0x02, [unique('stray'), 'user'])), []);
  // flags: clean session and user name, then client id, user name and a stray password
  assert.deepEqual(await refusedBytes(rawConnect(0x82, [unique('stray'), 'user', 'secret'])), []);
});

test('[MQTT-3.1.2-19] [MQTT-3.1.2-21] (3.1.1) a User Name or Password flag without its field makes the CONNECT malformed', async () => {
  assert.deepEqual(await refusedBytes(rawConnect(0x82, [unique('missing')])), []);
  assert.deepEqual(await refusedBytes(rawConnect(0xc2, [unique('missing'), 'user'])), []);
});

test('[MQTT-3.1.3-1] (3.1.1) the payload is read in order: client id, will topic, will message, user name, password', async () => {
  const topic = unique('order');
  const watcher = await v4();
  await subscribe(watcher, [sub(topic, 0)]);
  // flags: user name, password, will QoS 0, will, clean session
  const client = await RawClient.open(broker.port, 4);
  client.sendBytes(rawConnect(0xc6, [unique('ordered'), topic, 'will payload', 'user', 'secret']));
  assert.equal((await client.expect('connack')).reasonCode, 0);
  client.destroy();
  const will = await watcher.expect('publish');
  assert.equal(will.topic, topic);
  assert.equal(will.payload.toString(), 'will payload');
  watcher.destroy();
});

test('[MQTT-3.1.3-2] [MQTT-3.1.3-3] (3.1.1) the client id names the session: another id does not see it', async () => {
  const clientId = unique('owner');
  const first = await v4({ clientId, clean: false });
  first.send({ type: 'disconnect' });
  await first.closedByBroker();
  const other = await open({ clientId: `${clientId}x`, clean: false });
  assert.equal(other.connack.sessionPresent, false);
  const same = await open({ clientId, clean: false });
  assert.equal(same.connack.sessionPresent, true);
  for (const { client } of [other, same]) {
    client.send({ type: 'disconnect' });
    await client.closedByBroker();
  }
  for (const id of [clientId, `${clientId}x`]) await open({ clientId: id, clean: true }).then(({ client }) => client.destroy());
});

test('[MQTT-3.1.3-4] [MQTT-3.1.3-10] [MQTT-3.1.3-11] (3.1.1) a client id, will topic or user name that is not well-formed UTF-8 is refused', async () => {
  for (const [packet, marker] of [
    [connectPacket({ clientId: 'idQQ' }), 'QQ'],
    [connectPacket({ will: { topic: 'will/QQ', payload: Buffer.from('x'), qos: 0, retain: false } }), 'QQ'],
    [connectPacket({ username: 'userQQ' }), 'QQ'],
  ] as const) {
    const packets = await refusedBytes(withIllFormedUtf8(packet, marker));
    assert.ok(packets.every((p) => p.type === 'connack' && p.reasonCode !== 0), JSON.stringify(packets));
  }
});

test('[MQTT-3.1.3-5] (3.1.1) client ids of 1 to 23 characters from [0-9a-zA-Z] are accepted', async () => {
  for (const clientId of ['a', 'Z9', '0123456789abcdefghijklm', 'ABCDEFGHIJKLMNOPQRSTUVW']) {
    const { client, connack } = await open({ clientId });
    assert.equal(connack.reasonCode, 0, clientId);
    client.destroy();
  }
});

test('[MQTT-3.1.4-4] [MQTT-3.2.0-1] (3.1.1) the first packet the server sends is CONNACK 0x00', async () => {
  const client = await RawClient.open(broker.port, 4);
  client.sendBytes(Buffer.concat([encodePacket(connectPacket(), 4), encodePacket({ type: 'pingreq' }, 4)]));
  const first = await client.next();
  assert.equal(first?.type, 'connack');
  assert.equal((first as ConnackPacket).reasonCode, 0);
  await client.expect('pingresp');
  client.destroy();
});

test('[MQTT-3.1.4-5] (3.1.1) after a refused CONNECT the packets that follow it are not processed', async () => {
  const topic = unique('after-refusal');
  const watcher = await v4();
  await subscribe(watcher, [sub(topic, 0)]);
  const packets = await refusedBytes(Buffer.concat([encodePacket(connectPacket({ password: Buffer.from('wrong') }), 4), encodePacket(pub(topic, 'must not arrive'), 4)]));
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as ConnackPacket).reasonCode, 4);
  assert.ok(await watcher.nothingWithin(200), 'a PUBLISH after a refused CONNECT was routed');
  watcher.destroy();
});

test('[MQTT-3.2.2-4] [MQTT-3.2.2-5] (3.1.1) a non-zero return code comes with Session Present 0 and the connection closes', async () => {
  const clientId = unique('has-session');
  const first = await v4({ clientId, clean: false });
  first.send({ type: 'disconnect' });
  await first.closedByBroker();
  const packets = await refusedBytes(encodePacket(connectPacket({ clientId, clean: false, password: Buffer.from('wrong') }), 4));
  assert.deepEqual(packets, [{ type: 'connack', sessionPresent: false, reasonCode: 4 }]);
  await open({ clientId, clean: true }).then(({ client }) => client.destroy());
});

// ---- PUBLISH, SUBSCRIBE, UNSUBSCRIBE -------------------------------------------------------------

test('[MQTT-3.3.1-3] [MQTT-3.3.2-3] (3.1.1) a forwarded PUBLISH has its own DUP flag and the published Topic Name', async () => {
  const base = unique('fwd');
  const receiver = await v4();
  await subscribe(receiver, [sub(`${base}/+`, 1)]);
  const sender = await v4();
  sender.send({ ...pub(`${base}/x`, 'again', 1, { packetId: 2 }), dup: true });
  await sender.expect('puback');
  const got = await receiver.expect('publish');
  assert.equal(got.dup, false);
  assert.equal(got.topic, `${base}/x`);
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.3.5-2] (3.1.1) an unauthorised PUBLISH is acknowledged as usual and not delivered', async () => {
  const topic = `denied/${unique('t')}`;
  const receiver = await v4();
  await subscribe(receiver, [sub(topic)]);
  const sender = await v4();
  sender.send(pub(topic, 'q1', 1, { packetId: 3 }));
  assert.deepEqual(await sender.expect('puback'), { type: 'puback', packetId: 3 });
  sender.send(pub(topic, 'q2', 2, { packetId: 4 }));
  assert.deepEqual(await sender.expect('pubrec'), { type: 'pubrec', packetId: 4 });
  sender.send({ type: 'pubrel', packetId: 4 });
  assert.equal((await sender.expect('pubcomp')).packetId, 4);
  assert.ok(await receiver.nothingWithin(150));
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.6.4-1] (3.1.1) PUBCOMP carries the Packet Identifier of the PUBREL', async () => {
  const client = await v4();
  for (const packetId of [1, 0x7fff, 0xffff]) {
    client.send(pub(unique('pubcomp'), 'x', 2, { packetId }));
    await client.expect('pubrec');
    client.send({ type: 'pubrel', packetId });
    assert.equal((await client.expect('pubcomp')).packetId, packetId);
  }
  client.destroy();
});

test('[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1] (3.1.1) one SUBACK for several filters, same Packet Identifier, one return code each, in order', async () => {
  const client = await v4();
  const base = unique('multi');
  client.send({ type: 'subscribe', packetId: 0x1234, subscriptions: [sub(`${base}/two`, 2), sub(`${base}/bad/#/x`, 1), sub(`${base}/zero`, 0), sub(`${base}/one`, 1)] });
  const suback = await client.expect('suback');
  assert.equal(suback.packetId, 0x1234);
  assert.deepEqual(suback.reasonCodes, [2, 0x80, 0, 1]);
  client.send({ type: 'pingreq' });
  await client.expect('pingresp');
  client.destroy();
});

test('[MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6] (3.1.1) one UNSUBACK with the Packet Identifier, for several filters, even when none was subscribed', async () => {
  const client = await v4();
  const base = unique('unsub');
  await subscribe(client, [sub(`${base}/a`)]);
  client.send({ type: 'unsubscribe', packetId: 0x2222, filters: [`${base}/a`, `${base}/b`] });
  assert.deepEqual(await client.expect('unsuback'), { type: 'unsuback', packetId: 0x2222 });
  client.send({ type: 'unsubscribe', packetId: 0x3333, filters: [`${base}/never`] });
  assert.deepEqual(await client.expect('unsuback'), { type: 'unsuback', packetId: 0x3333 });
  client.send({ type: 'pingreq' });
  await client.expect('pingresp');
  client.destroy();
});

test('[MQTT-3.10.4-2] [MQTT-3.10.4-3] (3.1.1) after UNSUBSCRIBE nothing new is sent, and a QoS 2 delivery already started completes', async () => {
  const topic = unique('unsub-complete');
  const receiver = await v4();
  await subscribe(receiver, [sub(topic)]);
  const sender = await v4();
  sender.send(pub(topic, 'started', 2, { packetId: 1 }));
  const got = await receiver.expect('publish');
  receiver.send({ type: 'unsubscribe', packetId: 2, filters: [topic] });
  await receiver.expect('unsuback');
  receiver.send({ type: 'pubrec', packetId: got.packetId! });
  assert.equal((await receiver.expect('pubrel')).packetId, got.packetId);
  receiver.send({ type: 'pubcomp', packetId: got.packetId! });
  sender.send(pub(topic, 'late', 0));
  assert.ok(await receiver.nothingWithin(150));
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.8.0-1] (3.1.1) a protocol violation closes the connection', async () => {
  const violations: Packet[] = [
    { type: 'subscribe', packetId: 1, subscriptions: [] }, // no filter
    { type: 'unsubscribe', packetId: 1, filters: [] }, // no filter
    connectPacket(), // a second CONNECT
  ];
  for (const packet of violations) {
    const client = await v4();
    client.send(packet);
    assert.deepEqual(await client.closedByBroker(), [], packet.type);
  }
});
