// MQTT 5.0 server MUSTs on the wire, one behaviour per test, each titled with the statement it
// proves (MQTT 5.0 numbering): CONNECT/CONNACK, PUBLISH and its acknowledgements, SUBSCRIBE and
// UNSUBSCRIBE, DISCONNECT, the QoS flows, ordering, topic matching and flow control.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ConnackPacket, ConnectPacket, Packet, Properties, PublishPacket, QoS, SubscriptionRequest } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker({ responseInformationPrefix: 'responses' });
});
after(() => broker.close());

let counter = 0;
const unique = (name: string): string => `${name}-${++counter}`;

function connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
  return { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: unique('c'), ...fields };
}

/** Opens a v5 connection and returns the client with the CONNACK it got (whatever its reason code). */
async function open(fields: Partial<ConnectPacket> = {}, port = broker.port): Promise<{ client: RawClient; connack: ConnackPacket }> {
  const client = await RawClient.open(port, 5);
  client.send(connectPacket(fields));
  return { client, connack: await client.expect('connack') };
}

const v5 = (fields: Partial<ConnectPacket> = {}, port = broker.port): Promise<RawClient> => RawClient.connected(port, { protocolVersion: 5, ...fields });

function sub(filter: string, options: Partial<SubscriptionRequest> = {}): SubscriptionRequest {
  return { filter, qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0, ...options };
}

function pub(topic: string, payload: string, qos: QoS = 0, options: { retain?: boolean; packetId?: number; dup?: boolean; properties?: Properties } = {}): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: options.retain ?? false, dup: options.dup ?? false };
  if (qos > 0) packet.packetId = options.packetId ?? 1;
  if (options.properties) packet.properties = options.properties;
  return packet;
}

async function subscribe(client: RawClient, subscriptions: SubscriptionRequest[], packetId = 1): Promise<number[]> {
  client.send({ type: 'subscribe', packetId, subscriptions });
  return (await client.expect('suback')).reasonCodes;
}

/** A v5 PUBLISH whose bytes carry `marker` (ASCII) replaced by the same number of 0xFF bytes: ill-formed UTF-8. */
function withIllFormedUtf8(packet: Packet, marker: string): Buffer {
  const bytes = encodePacket(packet, 5);
  const at = bytes.indexOf(marker);
  assert.ok(at >= 0);
  bytes.fill(0xff, at, at + marker.length);
  return bytes;
}

// ---- CONNECT / CONNACK -------------------------------------------------------------------------

test('[MQTT-3.1.2-6] Clean Start 0 without a session creates a new one: Session Present 0, then 1 on return', async () => {
  const clientId = unique('fresh');
  const first = await open({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  assert.equal(first.connack.reasonCode, 0);
  assert.equal(first.connack.sessionPresent, false);
  first.client.send({ type: 'disconnect', reasonCode: 0 });
  await first.client.closedByBroker();
  const second = await open({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  assert.equal(second.connack.sessionPresent, true);
  second.client.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await second.client.closedByBroker();
});

test('[MQTT-3.1.2-7] [MQTT-3.1.2-14] a will with Will Retain 0 is stored and published as a non-retained message', async () => {
  const topic = unique('will-plain');
  const watcher = await v5();
  await subscribe(watcher, [sub(topic, { retainAsPublished: true })]);
  const { client } = await open({ will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
  client.destroy();
  const got = await watcher.expect('publish');
  assert.equal(got.payload.toString(), 'gone');
  assert.equal(got.retain, false);
  if (got.qos > 0) watcher.send({ type: 'puback', packetId: got.packetId! });
  const late = await v5();
  await subscribe(late, [sub(topic)]);
  assert.ok(await late.nothingWithin(150), 'a non-retained will was kept as retained');
  watcher.destroy();
  late.destroy();
});

test('[MQTT-3.1.2-15] a will with Will Retain 1 is published as a retained message', async () => {
  const topic = unique('will-retained');
  const { client } = await open({ will: { topic, payload: Buffer.from('last'), qos: 0, retain: true } });
  client.destroy();
  const late = await v5();
  let got: PublishPacket | undefined;
  for (let attempt = 0; attempt < 50 && got === undefined; attempt++) {
    late.send({ type: 'unsubscribe', packetId: 2, filters: [topic] });
    await late.expect('unsuback');
    await subscribe(late, [sub(topic, { qos: 0 })]);
    const next = await late.next(100).catch(() => undefined);
    if (next?.type === 'publish') got = next;
  }
  assert.ok(got !== undefined, 'the will was not retained');
  assert.equal(got.payload.toString(), 'last');
  assert.equal(got.retain, true);
  late.destroy();
});

test('[MQTT-3.1.2-28] Request Response Information 0 gets no Response Information', async () => {
  const without = await open({ properties: { requestResponseInformation: 0 } });
  assert.equal(without.connack.reasonCode, 0);
  assert.equal(without.connack.properties?.responseInformation, undefined);
  const absent = await open();
  assert.equal(absent.connack.properties?.responseInformation, undefined);
  const asked = await open({ properties: { requestResponseInformation: 1 } });
  assert.ok(asked.connack.properties?.responseInformation !== undefined, 'the control case got none');
  for (const c of [without, absent, asked]) c.client.destroy();
});

test('[MQTT-3.1.3-5] client ids of 1 to 23 characters from [0-9a-zA-Z] are accepted', async () => {
  for (const clientId of ['a', 'Z9', '0123456789abcdefghijklm', 'ABCDEFGHIJKLMNOPQRSTUVW']) {
    const { client, connack } = await open({ clientId });
    assert.equal(connack.reasonCode, 0, clientId);
    assert.equal(connack.properties?.assignedClientIdentifier, undefined);
    client.destroy();
  }
});

test('[MQTT-3.1.3-11] a Will Topic that is not well-formed UTF-8 makes the CONNECT malformed', async () => {
  const client = await RawClient.open(broker.port, 5);
  client.sendBytes(withIllFormedUtf8(connectPacket({ will: { topic: 'will/QQ', payload: Buffer.from('x'), qos: 0, retain: false } }), 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'connack');
  assert.equal((packets[0] as ConnackPacket).reasonCode, 0x81);
});

test('[MQTT-3.1.3-12] a User Name that is not well-formed UTF-8 makes the CONNECT malformed', async () => {
  const client = await RawClient.open(broker.port, 5);
  client.sendBytes(withIllFormedUtf8(connectPacket({ username: 'userQQ' }), 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as ConnackPacket).reasonCode, 0x81);
});

test('[MQTT-3.1.4-5] [MQTT-3.2.0-1] [MQTT-3.2.0-2] CONNACK 0x00 comes first and once, even with packets sent right after CONNECT', async () => {
  const client = await RawClient.open(broker.port, 5);
  const topic = unique('pipelined');
  client.sendBytes(
    Buffer.concat([
      encodePacket(connectPacket(), 5),
      encodePacket({ type: 'subscribe', packetId: 3, subscriptions: [sub(topic, { qos: 0 })] }, 5),
      encodePacket({ type: 'pingreq' }, 5),
    ]),
  );
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, 0);
  assert.equal((await client.expect('suback')).packetId, 3);
  await client.expect('pingresp');
  client.send({ type: 'pingreq' });
  await client.expect('pingresp'); // and no second CONNACK in between
  client.destroy();
});

test('[MQTT-3.1.4-6] [MQTT-3.2.2-7] [MQTT-4.13.2-1] a refused CONNECT closes the connection and the packets after it are not processed', async () => {
  const topic = unique('refused');
  const watcher = await v5();
  await subscribe(watcher, [sub(topic, { qos: 0 })]);
  const client = await RawClient.open(broker.port, 5);
  client.sendBytes(
    Buffer.concat([
      encodePacket(connectPacket({ properties: { authenticationMethod: 'NO-SUCH-METHOD' } }), 5),
      encodePacket(pub(topic, 'must not arrive'), 5),
    ]),
  );
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'connack');
  assert.ok((packets[0] as ConnackPacket).reasonCode >= 0x80);
  assert.ok(await watcher.nothingWithin(200), 'a PUBLISH after a refused CONNECT was routed');
  watcher.destroy();
});

test('[MQTT-3.2.2-10] a server with Maximum QoS 0 still accepts a SUBSCRIBE at QoS 0, 1 and 2', async () => {
  const limited = await startBroker({ maxQos: 0 });
  try {
    const { client, connack } = await open({}, limited.port);
    assert.equal(connack.properties?.maximumQoS, 0);
    assert.deepEqual(await subscribe(client, [sub('a', { qos: 0 }), sub('b', { qos: 1 }), sub('c', { qos: 2 })]), [0, 0, 0]);
    client.destroy();
  } finally {
    await limited.close();
  }
});

test('[MQTT-3.2.2-13] a retained will on a server without retained messages gets CONNACK 0x9A and the connection closes', async () => {
  const limited = await startBroker({ retainAvailable: false });
  try {
    const client = await RawClient.open(limited.port, 5);
    client.send(connectPacket({ will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true } }));
    const packets = await client.closedByBroker();
    assert.equal(packets.length, 1);
    assert.equal((packets[0] as ConnackPacket).reasonCode, 0x9a);
  } finally {
    await limited.close();
  }
});

test('[MQTT-3.2.2-19] [MQTT-3.2.2-20] a refusing CONNACK leaves out its Reason String where it would exceed the client\'s Maximum Packet Size', async () => {
  const roomy = await RawClient.open(broker.port, 5);
  roomy.send(connectPacket({ properties: { authenticationMethod: 'NO-SUCH-METHOD' } }));
  const control = (await roomy.closedByBroker())[0] as ConnackPacket;
  assert.ok(control.properties?.reasonString !== undefined, 'the control case has no Reason String');
  const tight = await RawClient.open(broker.port, 5);
  tight.send(connectPacket({ properties: { authenticationMethod: 'NO-SUCH-METHOD', maximumPacketSize: 16 } }));
  const packets = await tight.closedByBroker();
  assert.equal(packets.length, 1);
  const connack = packets[0] as ConnackPacket;
  assert.ok(connack.reasonCode >= 0x80);
  assert.equal(connack.properties?.reasonString, undefined);
  assert.equal(connack.properties?.userProperties, undefined);
  assert.ok(encodePacket(connack, 5).length <= 16);
});

test('[MQTT-3.2.2-22] without a Server Keep Alive the server uses the client\'s Keep Alive', async () => {
  const { client, connack } = await open({ keepalive: 1 });
  assert.equal(connack.properties?.serverKeepAlive, undefined);
  const packets = await client.closedByBroker(5000);
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'disconnect');
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x8d);
});

// ---- PUBLISH and acknowledgements ----------------------------------------------------------------

test('[MQTT-2.2.1-2] a QoS 0 PUBLISH from the server carries no Packet Identifier', async () => {
  const topic = unique('q0-id');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 0 })]);
  const raw: Buffer[] = [];
  receiver.socket.on('data', (chunk: Buffer) => raw.push(chunk));
  const sender = await v5();
  sender.send(pub(topic, 'xyz', 1, { packetId: 5 }));
  await sender.expect('puback');
  const got = await receiver.expect('publish');
  assert.equal(got.qos, 0);
  assert.equal(got.packetId, undefined);
  // fixed header, remaining length, topic (2 + length), property length 0, payload: nothing else
  assert.deepEqual(Buffer.concat(raw), encodePacket(pub(topic, 'xyz'), 5));
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-2.2.1-4] the server gives each QoS 1 and QoS 2 PUBLISH in flight its own non-zero Packet Identifier', async () => {
  const topic = unique('ids');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic)]);
  const sender = await v5();
  for (let i = 0; i < 10; i++) sender.send(pub(topic, `m${i}`, i % 2 === 0 ? 1 : 2, { packetId: i + 1 }));
  const ids = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const got = await receiver.expect('publish');
    assert.ok(got.packetId !== undefined && got.packetId > 0);
    ids.add(got.packetId);
  }
  assert.equal(ids.size, 10);
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-2.2.1-5] [MQTT-4.3.2-4] [MQTT-4.3.3-8] [MQTT-4.3.3-11] PUBACK, PUBREC and PUBCOMP carry the Packet Identifier of the PUBLISH', async () => {
  const client = await v5();
  for (const packetId of [1, 0x1234, 0xffff]) {
    client.send(pub(unique('ack-id'), 'x', 1, { packetId }));
    assert.equal((await client.expect('puback')).packetId, packetId);
    client.send(pub(unique('ack-id'), 'x', 2, { packetId }));
    assert.equal((await client.expect('pubrec')).packetId, packetId);
    client.send({ type: 'pubrel', packetId });
    assert.equal((await client.expect('pubcomp')).packetId, packetId);
  }
  client.destroy();
});

test('[MQTT-2.2.1-6] [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.10.4-4] SUBACK and UNSUBACK carry the Packet Identifier of their request', async () => {
  const client = await v5();
  for (const packetId of [1, 0x4242, 0xffff]) {
    const filter = unique('sub-id');
    client.send({ type: 'subscribe', packetId, subscriptions: [sub(filter)] });
    assert.equal((await client.expect('suback')).packetId, packetId);
    client.send({ type: 'unsubscribe', packetId, filters: [filter] });
    assert.equal((await client.expect('unsuback')).packetId, packetId);
  }
  client.destroy();
});

test('[MQTT-3.3.1-3] the DUP flag of a forwarded PUBLISH is not copied from the incoming one', async () => {
  const topic = unique('dup');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 1 })]);
  const sender = await v5();
  sender.send(pub(topic, 'again', 1, { packetId: 3, dup: true }));
  await sender.expect('puback');
  const got = await receiver.expect('publish');
  assert.equal(got.dup, false);
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.3.2-3] the Topic Name of a delivered PUBLISH is the published one, which matches the filter', async () => {
  const base = unique('names');
  const receiver = await v5();
  await subscribe(receiver, [sub(`${base}/+/x/#`, { qos: 0 })]);
  const sender = await v5();
  sender.send(pub(`${base}/a/x/b/c`, '1'));
  assert.equal((await receiver.expect('publish')).topic, `${base}/a/x/b/c`);
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.3.2-7] a Topic Alias set on one connection is unknown on the next one of the same client', async () => {
  const clientId = unique('alias');
  const topic = unique('alias-topic');
  const first = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  first.send(pub(topic, 'set', 0, { properties: { topicAlias: 1 } }));
  first.send({ type: 'pingreq' });
  await first.expect('pingresp');
  first.destroy();
  const second = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
  second.send(pub('', 'by alias', 0, { properties: { topicAlias: 1 } }));
  const packets = await second.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'disconnect');
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x82);
});

test('[MQTT-3.3.2-13] a Response Topic that is not well-formed UTF-8 makes the PUBLISH malformed', async () => {
  const client = await v5();
  client.sendBytes(withIllFormedUtf8(pub('t', 'x', 0, { properties: { responseTopic: 'replyQQ' } }), 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x81);
});

test('[MQTT-3.3.2-19] a Content Type that is not well-formed UTF-8 makes the PUBLISH malformed', async () => {
  const client = await v5();
  client.sendBytes(withIllFormedUtf8(pub('t', 'x', 0, { properties: { contentType: 'text/QQ' } }), 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x81);
});

test('[MQTT-3.3.4-2] overlapping subscriptions deliver one copy at the maximum QoS of the matching ones', async () => {
  const base = unique('overlap');
  const receiver = await v5();
  await subscribe(receiver, [sub(`${base}/#`, { qos: 0 }), sub(`${base}/+`, { qos: 2 }), sub(`${base}/a`, { qos: 1 })]);
  const sender = await v5();
  sender.send(pub(`${base}/a`, 'x', 2, { packetId: 4 }));
  await sender.expect('pubrec');
  const got = await receiver.expect('publish');
  assert.equal(got.qos, 2);
  receiver.send({ type: 'pubrec', packetId: got.packetId! });
  await receiver.expect('pubrel');
  receiver.send({ type: 'pubcomp', packetId: got.packetId! });
  assert.ok(await receiver.nothingWithin(150), 'more than one copy');
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.9.0-1] [MQTT-4.9.0-2] the send quota starts at the client\'s Receive Maximum and stops QoS 1/2 PUBLISH at zero', async () => {
  const topic = unique('quota');
  const receiver = await v5({ properties: { receiveMaximum: 2 } });
  await subscribe(receiver, [sub(topic, { qos: 1 })]);
  const sender = await v5();
  for (let i = 1; i <= 3; i++) sender.send(pub(topic, `m${i}`, 1, { packetId: i }));
  for (let i = 1; i <= 3; i++) await sender.expect('puback');
  const first = await receiver.expect('publish');
  const second = await receiver.expect('publish');
  assert.ok(await receiver.nothingWithin(150), 'a third PUBLISH went out with the quota at zero');
  receiver.send({ type: 'puback', packetId: first.packetId! });
  assert.equal((await receiver.expect('publish')).payload.toString(), 'm3');
  receiver.send({ type: 'puback', packetId: second.packetId! });
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.3.4-10] [MQTT-4.9.0-3] with the send quota at zero, the server still answers PINGREQ, SUBSCRIBE and UNSUBSCRIBE and sends QoS 0', async () => {
  const topic = unique('quota-zero');
  const receiver = await v5({ properties: { receiveMaximum: 1 } });
  await subscribe(receiver, [sub(topic, { qos: 1 }), sub(`${topic}/zero`, { qos: 0 })]);
  const sender = await v5();
  sender.send(pub(topic, 'held', 1, { packetId: 1 }));
  sender.send(pub(topic, 'waits', 1, { packetId: 2 }));
  await sender.expect('puback');
  await sender.expect('puback');
  const held = await receiver.expect('publish');
  receiver.send({ type: 'pingreq' });
  await receiver.expect('pingresp');
  assert.deepEqual(await subscribe(receiver, [sub(unique('more'), { qos: 1 })], 7), [1]);
  receiver.send({ type: 'unsubscribe', packetId: 8, filters: ['nothing'] });
  await receiver.expect('unsuback');
  sender.send(pub(`${topic}/zero`, 'qos0'));
  const zero = await receiver.expect('publish');
  assert.equal(zero.qos, 0);
  receiver.send({ type: 'puback', packetId: held.packetId! });
  assert.equal((await receiver.expect('publish')).payload.toString(), 'waits');
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.5.2-1] [MQTT-3.7.2-1] PUBREC and PUBCOMP use their own reason codes: 0x10 No matching subscribers, 0x92 Packet Identifier not found', async () => {
  const client = await v5();
  client.send(pub(unique('nobody'), 'x', 2, { packetId: 11 }));
  const pubrec = await client.expect('pubrec');
  assert.equal(pubrec.reasonCode, 0x10);
  client.send({ type: 'pubrel', packetId: 11 });
  assert.equal((await client.expect('pubcomp')).reasonCode ?? 0, 0);
  client.send({ type: 'pubrel', packetId: 12 });
  const unknown = await client.expect('pubcomp');
  assert.equal(unknown.packetId, 12);
  assert.equal(unknown.reasonCode, 0x92);
  client.destroy();
});

test('[MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.5.2-2] [MQTT-3.5.2-3] a PUBACK or PUBREC leaves out its Reason String where it would exceed the client\'s Maximum Packet Size', async () => {
  const roomy = await v5();
  roomy.send(pub('$SYS/forbidden', 'x', 1, { packetId: 1 }));
  assert.ok((await roomy.expect('puback')).properties?.reasonString !== undefined, 'the control case has no Reason String');
  const tight = await v5({ properties: { maximumPacketSize: 12 } });
  tight.send(pub('$SYS/forbidden', 'x', 1, { packetId: 1 }));
  const puback = await tight.expect('puback');
  assert.equal(puback.reasonCode, 0x87);
  assert.equal(puback.properties, undefined);
  tight.send(pub('$SYS/forbidden', 'x', 2, { packetId: 2 }));
  const pubrec = await tight.expect('pubrec');
  assert.equal(pubrec.reasonCode, 0x87);
  assert.equal(pubrec.properties, undefined);
  roomy.destroy();
  tight.destroy();
});

// ---- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------------

test('[MQTT-3.9.3-1] SUBACK reason codes follow the order of the filters, failures included', async () => {
  const client = await v5();
  const base = unique('order');
  const codes = await subscribe(client, [sub(`${base}/two`, { qos: 2 }), sub(`${base}/bad/#/x`), sub(`${base}/zero`, { qos: 0 }), sub(`${base}/one`, { qos: 1 })]);
  assert.deepEqual(codes, [2, 0x8f, 0, 1]);
  client.destroy();
});

test('[MQTT-3.9.2-1] [MQTT-3.9.2-2] a SUBACK leaves out its Reason String where it would exceed the client\'s Maximum Packet Size', async () => {
  const roomy = await v5();
  roomy.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('bad/#/x')] });
  assert.ok((await roomy.expect('suback')).properties?.reasonString !== undefined, 'the control case has no Reason String');
  const tight = await v5({ properties: { maximumPacketSize: 12 } });
  tight.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('bad/#/x')] });
  const suback = await tight.expect('suback');
  assert.deepEqual(suback.reasonCodes, [0x8f]);
  assert.equal(suback.properties, undefined);
  roomy.destroy();
  tight.destroy();
});

test('[MQTT-3.10.4-5] [MQTT-3.10.4-6] [MQTT-3.11.3-1] one UNSUBACK for several filters, codes in their order, even when nothing was deleted', async () => {
  const client = await v5();
  const base = unique('unsub');
  await subscribe(client, [sub(`${base}/a`), sub(`${base}/c`)]);
  client.send({ type: 'unsubscribe', packetId: 9, filters: [`${base}/a`, `${base}/b`, `${base}/c`] });
  const unsuback = await client.expect('unsuback');
  assert.equal(unsuback.packetId, 9);
  assert.deepEqual(unsuback.reasonCodes, [0x00, 0x11, 0x00]);
  client.send({ type: 'unsubscribe', packetId: 10, filters: [`${base}/a`] });
  const none = await client.expect('unsuback');
  assert.equal(none.packetId, 10);
  assert.deepEqual(none.reasonCodes, [0x11]);
  client.send({ type: 'pingreq' });
  await client.expect('pingresp'); // a single UNSUBACK each
  client.destroy();
});

test('[MQTT-3.11.2-1] [MQTT-3.11.2-2] an UNSUBACK leaves out its Reason String where it would exceed the client\'s Maximum Packet Size', async () => {
  const tight = await v5({ properties: { maximumPacketSize: 8 } });
  tight.send({ type: 'unsubscribe', packetId: 1, filters: ['never/subscribed'] });
  const unsuback = await tight.expect('unsuback');
  assert.deepEqual(unsuback.reasonCodes, [0x11]);
  assert.equal(unsuback.properties, undefined);
  tight.destroy();
});

test('[MQTT-3.10.4-2] after UNSUBACK no new message matching the filter is sent', async () => {
  const topic = unique('stop');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 0 })]);
  receiver.send({ type: 'unsubscribe', packetId: 2, filters: [topic] });
  await receiver.expect('unsuback');
  const sender = await v5();
  sender.send(pub(topic, 'late', 1, { packetId: 1 }));
  assert.equal((await sender.expect('puback')).reasonCode, 0x10);
  assert.ok(await receiver.nothingWithin(150));
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.10.4-3] a QoS 1 and a QoS 2 delivery started before UNSUBSCRIBE are completed', async () => {
  const topic = unique('complete');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic)]);
  const sender = await v5();
  sender.send(pub(topic, 'one', 1, { packetId: 1 }));
  sender.send(pub(topic, 'two', 2, { packetId: 2 }));
  const one = await receiver.expect('publish');
  const two = await receiver.expect('publish');
  receiver.send({ type: 'unsubscribe', packetId: 5, filters: [topic] });
  await receiver.expect('unsuback');
  receiver.send({ type: 'puback', packetId: one.packetId! });
  receiver.send({ type: 'pubrec', packetId: two.packetId! });
  assert.equal((await receiver.expect('pubrel')).packetId, two.packetId);
  receiver.send({ type: 'pubcomp', packetId: two.packetId! });
  receiver.send({ type: 'pingreq' });
  await receiver.expect('pingresp');
  receiver.destroy();
  sender.destroy();
});

// ---- DISCONNECT and errors -----------------------------------------------------------------------

test('[MQTT-3.14.0-1] a malformed CONNECT is answered with CONNACK, never DISCONNECT', async () => {
  const client = await RawClient.open(broker.port, 5);
  const bytes = encodePacket(connectPacket({ properties: { sessionExpiryInterval: 10 } }), 5);
  // the Session Expiry Interval property id (0x11) becomes 0x7F, an unknown property: malformed
  const at = bytes.indexOf(0x11, 10);
  bytes[at] = 0x7f;
  client.sendBytes(bytes);
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'connack');
  assert.ok((packets[0] as ConnackPacket).reasonCode >= 0x80);
});

test('[MQTT-3.14.4-1] [MQTT-3.14.4-2] after its DISCONNECT the server sends nothing more and closes the connection', async () => {
  const topic = unique('after-disconnect');
  const client = await v5();
  await subscribe(client, [sub(topic, { qos: 0 })]);
  // a protocol error (Topic Alias 0), then packets that would each be answered
  client.sendBytes(
    Buffer.concat([
      encodePacket(pub(topic, 'x', 0, { properties: { topicAlias: 0 } }), 5),
      encodePacket({ type: 'pingreq' }, 5),
      encodePacket({ type: 'subscribe', packetId: 2, subscriptions: [sub('x')] }, 5),
      encodePacket(pub(topic, 'echo'), 5),
    ]),
  );
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'disconnect');
  assert.ok((packets[0] as { reasonCode: number }).reasonCode >= 0x80);
});

test('[MQTT-3.14.2-3] [MQTT-3.14.2-4] a server DISCONNECT leaves out its Reason String where it would exceed the client\'s Maximum Packet Size', async () => {
  const roomy = await v5();
  roomy.send(pub('t', 'x', 0, { properties: { topicAlias: 0 } }));
  const control = (await roomy.closedByBroker())[0] as { properties?: Properties };
  assert.ok(control.properties?.reasonString !== undefined, 'the control case has no Reason String');
  const tight = await v5({ properties: { maximumPacketSize: 8 } });
  tight.send(pub('t', 'x', 0, { properties: { topicAlias: 0 } }));
  const packets = await tight.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.type, 'disconnect');
  assert.equal((packets[0] as { properties?: Properties }).properties?.reasonString, undefined);
  assert.ok(encodePacket(packets[0]!, 5).length <= 8);
});

// ---- Sessions and QoS flows ----------------------------------------------------------------------

test('[MQTT-4.1.0-2] the session is discarded once the Session Expiry Interval has passed after the connection closed', async () => {
  const clientId = unique('expires');
  const first = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 1 } });
  await subscribe(first, [sub(unique('kept'))]);
  first.send({ type: 'disconnect', reasonCode: 0 });
  await first.closedByBroker();
  assert.ok(broker.culex.broker.sessions.has(clientId), 'the session did not outlive its connection');
  for (let attempt = 0; attempt < 50 && broker.culex.broker.sessions.has(clientId); attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
  const again = await open({ clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
  assert.equal(again.connack.sessionPresent, false);
  again.client.destroy();
});

test('[MQTT-4.3.2-5] after PUBACK, a PUBLISH reusing the Packet Identifier is a new message, DUP or not', async () => {
  const topic = unique('reuse1');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 0 })]);
  const sender = await v5();
  sender.send(pub(topic, 'first', 1, { packetId: 6 }));
  await sender.expect('puback');
  sender.send(pub(topic, 'second', 1, { packetId: 6, dup: true }));
  await sender.expect('puback');
  assert.equal((await receiver.expect('publish')).payload.toString(), 'first');
  assert.equal((await receiver.expect('publish')).payload.toString(), 'second');
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.3.3-12] after PUBCOMP, a QoS 2 PUBLISH reusing the Packet Identifier is a new message', async () => {
  const topic = unique('reuse2');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 0 })]);
  const sender = await v5();
  for (const payload of ['first', 'second']) {
    sender.send(pub(topic, payload, 2, { packetId: 8 }));
    await sender.expect('pubrec');
    sender.send({ type: 'pubrel', packetId: 8 });
    await sender.expect('pubcomp');
  }
  assert.equal((await receiver.expect('publish')).payload.toString(), 'first');
  assert.equal((await receiver.expect('publish')).payload.toString(), 'second');
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.3.3-9] after a PUBREC with a reason code of 0x80 or more, a PUBLISH reusing the Packet Identifier is a new message', async () => {
  const topic = unique('refused-q2');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 0 })]);
  const sender = await v5();
  sender.send({ ...pub(topic, '', 2, { packetId: 9, properties: { payloadFormatIndicator: 1 } }), payload: Buffer.from([0xff, 0xfe]) });
  assert.equal((await sender.expect('pubrec')).reasonCode, 0x99);
  sender.send(pub(topic, 'valid', 2, { packetId: 9, properties: { payloadFormatIndicator: 1 } }));
  assert.equal((await sender.expect('pubrec')).reasonCode ?? 0, 0);
  sender.send({ type: 'pubrel', packetId: 9 });
  await sender.expect('pubcomp');
  assert.equal((await receiver.expect('publish')).payload.toString(), 'valid');
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.3.3-13] the QoS 2 flow completes after the message has expired', async () => {
  const sender = await v5();
  sender.send(pub(unique('expired-q2'), 'x', 2, { packetId: 10, properties: { messageExpiryInterval: 1 } }));
  await sender.expect('pubrec');
  await new Promise((resolve) => setTimeout(resolve, 1200));
  sender.send({ type: 'pubrel', packetId: 10 });
  const pubcomp = await sender.expect('pubcomp');
  assert.equal(pubcomp.packetId, 10);
  assert.equal(pubcomp.reasonCode ?? 0, 0);
  sender.destroy();
});

test('[MQTT-4.3.3-1] [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.3.3-5] [MQTT-4.3.3-6] QoS 2 to a client: PUBREL after PUBREC, resent on reconnect until PUBCOMP, the PUBLISH never again', async () => {
  const clientId = unique('q2-sender');
  const topic = unique('q2-out');
  const receiver = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  await subscribe(receiver, [sub(topic)]);
  const sender = await v5();
  sender.send(pub(topic, 'exactly once', 2, { packetId: 1 }));
  await sender.expect('pubrec');
  const got = await receiver.expect('publish');
  assert.equal(got.qos, 2);
  assert.equal(got.dup, false);
  receiver.send({ type: 'pubrec', packetId: got.packetId! });
  assert.equal((await receiver.expect('pubrel')).packetId, got.packetId);
  receiver.destroy();
  const back = await RawClient.open(broker.port, 5);
  back.send(connectPacket({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } }));
  assert.equal((await back.expect('connack')).sessionPresent, true);
  const resent = await back.next();
  assert.equal(resent?.type, 'pubrel');
  assert.equal((resent as { packetId: number }).packetId, got.packetId);
  back.send({ type: 'pubcomp', packetId: got.packetId! });
  assert.ok(await back.nothingWithin(150), 'something was resent after PUBREL');
  back.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  sender.destroy();
});

test('[MQTT-4.3.2-3] [MQTT-4.3.3-7] an unacknowledged PUBLISH is resent on reconnect even after its Message Expiry Interval passed', async () => {
  const clientId = unique('inflight-expiry');
  const topic = unique('inflight-expiry');
  const receiver = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  await subscribe(receiver, [sub(topic)]);
  const sender = await v5();
  sender.send(pub(topic, 'q1', 1, { packetId: 1, properties: { messageExpiryInterval: 1 } }));
  sender.send(pub(topic, 'q2', 2, { packetId: 2, properties: { messageExpiryInterval: 1 } }));
  await sender.expect('puback');
  await sender.expect('pubrec');
  const first = await receiver.expect('publish');
  const second = await receiver.expect('publish');
  receiver.destroy();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const back = await RawClient.open(broker.port, 5);
  back.send(connectPacket({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } }));
  assert.equal((await back.expect('connack')).sessionPresent, true);
  const again1 = await back.expect('publish');
  const again2 = await back.expect('publish');
  assert.deepEqual([again1.packetId, again1.dup, again1.payload.toString()], [first.packetId, true, 'q1']);
  assert.deepEqual([again2.packetId, again2.dup, again2.payload.toString()], [second.packetId, true, 'q2']);
  back.send({ type: 'puback', packetId: again1.packetId! });
  back.send({ type: 'pubrec', packetId: again2.packetId! });
  await back.expect('pubrel');
  back.send({ type: 'pubcomp', packetId: again2.packetId! });
  back.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  sender.destroy();
});

test('[MQTT-4.4.0-2] a PUBLISH the client answered with PUBACK 0x80 or more is not resent', async () => {
  const clientId = unique('refuses');
  const topic = unique('refused-ack');
  const receiver = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  await subscribe(receiver, [sub(topic, { qos: 1 })]);
  const sender = await v5();
  sender.send(pub(topic, 'refused', 1, { packetId: 1 }));
  await sender.expect('puback');
  const got = await receiver.expect('publish');
  receiver.send({ type: 'puback', packetId: got.packetId!, reasonCode: 0x80 });
  receiver.send({ type: 'pingreq' });
  await receiver.expect('pingresp');
  receiver.destroy();
  const back = await RawClient.open(broker.port, 5);
  back.send(connectPacket({ clientId, clean: false, properties: { sessionExpiryInterval: 0 } }));
  assert.equal((await back.expect('connack')).sessionPresent, true);
  assert.ok(await back.nothingWithin(200), 'the refused PUBLISH was resent');
  back.destroy();
  sender.destroy();
});

// ---- Ordering, topics, shared subscriptions ------------------------------------------------------

test('[MQTT-4.6.0-5] [MQTT-4.6.0-6] messages from one client to one topic arrive in the order they were published, per QoS', async () => {
  const topic = unique('ordered');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic)]);
  const sender = await v5();
  const count = 60;
  for (let i = 0; i < count; i++) sender.send(pub(topic, String(i), (i % 3) as QoS, { packetId: i + 1 }));
  const byQos: number[][] = [[], [], []];
  for (let received = 0, packets = 0; received < count && packets < 3 * count; packets++) {
    const got = await receiver.next();
    if (got?.type === 'pubrel') receiver.send({ type: 'pubcomp', packetId: got.packetId });
    if (got?.type !== 'publish') continue;
    received++;
    byQos[got.qos]!.push(Number(got.payload.toString()));
    if (got.qos === 1) receiver.send({ type: 'puback', packetId: got.packetId! });
    if (got.qos === 2) receiver.send({ type: 'pubrec', packetId: got.packetId! });
  }
  for (let qos = 0; qos < 3; qos++) {
    const expected = [...Array(count).keys()].filter((i) => i % 3 === qos);
    assert.deepEqual(byQos[qos], expected, `QoS ${qos}`);
  }
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.7.0-1] a wildcard in a Topic Name is a protocol error', async () => {
  for (const topic of ['a/+', 'a/#', '+']) {
    const client = await v5();
    client.send(pub(topic, 'x'));
    const packets = await client.closedByBroker();
    assert.equal(packets.length, 1, topic);
    assert.ok((packets[0] as { reasonCode: number }).reasonCode >= 0x80, topic);
  }
});

test('[MQTT-4.7.3-4] matching normalises nothing: case, empty levels, trailing slash and Unicode forms are distinct', async () => {
  const base = unique('exact');
  const composed = `${base}/caf\u00e9`;
  const receiver = await v5();
  await subscribe(receiver, [sub(`${base}/a/b`, { qos: 0 }), sub(composed, { qos: 0 })]);
  const sender = await v5();
  for (const topic of [`${base}/A/b`, `${base}/a//b`, `${base}/a/b/`, `${base}//a/b`, `${base}/cafe\u0301`]) sender.send(pub(topic, topic));
  sender.send(pub(composed, 'exact'));
  const got = await receiver.expect('publish');
  assert.equal(got.payload.toString(), 'exact');
  assert.ok(await receiver.nothingWithin(150));
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-4.8.2-3] a shared subscription delivers at most its granted QoS', async () => {
  const topic = unique('shared-qos');
  const member = await v5();
  assert.deepEqual(await subscribe(member, [sub(`$share/g/${topic}`, { qos: 1 })]), [1]);
  const sender = await v5();
  sender.send(pub(topic, 'x', 2, { packetId: 1 }));
  await sender.expect('pubrec');
  const got = await member.expect('publish');
  assert.equal(got.qos, 1);
  member.send({ type: 'puback', packetId: got.packetId! });
  member.destroy();
  sender.destroy();
});

test('[MQTT-4.8.2-4] a QoS 2 delivery to a shared-subscription member completes when that member reconnects', async () => {
  const clientId = unique('member');
  const topic = unique('shared-q2');
  const member = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  await subscribe(member, [sub(`$share/g2/${topic}`)]);
  const sender = await v5();
  sender.send(pub(topic, 'finish me', 2, { packetId: 1 }));
  await sender.expect('pubrec');
  const got = await member.expect('publish');
  member.destroy();
  const back = await RawClient.open(broker.port, 5);
  back.send(connectPacket({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } }));
  assert.equal((await back.expect('connack')).sessionPresent, true);
  const again = await back.expect('publish');
  assert.deepEqual([again.packetId, again.dup, again.payload.toString()], [got.packetId, true, 'finish me']);
  back.send({ type: 'pubrec', packetId: again.packetId! });
  await back.expect('pubrel');
  back.send({ type: 'pubcomp', packetId: again.packetId! });
  back.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  sender.destroy();
});

test('[MQTT-4.8.2-6] a shared message refused with PUBACK 0x80 or more is not sent to another member', async () => {
  const topic = unique('shared-refused');
  const first = await v5();
  const second = await v5();
  await subscribe(first, [sub(`$share/g3/${topic}`, { qos: 1 })]);
  await subscribe(second, [sub(`$share/g3/${topic}`, { qos: 1 })]);
  const sender = await v5();
  sender.send(pub(topic, 'only once', 1, { packetId: 1 }));
  await sender.expect('puback');
  const [toFirst, toSecond] = await Promise.all([first.next(1000).catch(() => undefined), second.next(1000).catch(() => undefined)]);
  assert.ok((toFirst === undefined) !== (toSecond === undefined), 'not exactly one member got the message');
  const got = toFirst !== undefined ? { p: toFirst as PublishPacket, who: first, other: second } : { p: toSecond as PublishPacket, who: second, other: first };
  got.who.send({ type: 'puback', packetId: got.p.packetId!, reasonCode: 0x83 });
  got.who.send({ type: 'pingreq' });
  await got.who.expect('pingresp');
  assert.ok(await got.other.nothingWithin(200), 'the refused message went to the other member');
  first.destroy();
  second.destroy();
  sender.destroy();
});

// ---- more statements: encoding, client limits the server enforces, shared QoS 2 --------------------

test('[MQTT-1.5.5-1] the server encodes the Remaining Length in the fewest bytes', async () => {
  const topic = unique('vbi');
  const receiver = await v5();
  await subscribe(receiver, [sub(topic, { qos: 0 })]);
  const sender = await v5();
  // remaining length = 2 + topic + 1 (property length) + payload: 127, 128, 16383 and 16384 bytes
  const overhead = 2 + Buffer.byteLength(topic) + 1;
  const sizes = [127, 128, 16383, 16384];
  const raw: Buffer[] = [];
  receiver.socket.on('data', (chunk: Buffer) => raw.push(chunk));
  for (const size of sizes) sender.send(pub(topic, 'x'.repeat(size - overhead)));
  for (let i = 0; i < sizes.length; i++) await receiver.expect('publish');
  const bytes = Buffer.concat(raw);
  let at = 0;
  for (const [i, size] of sizes.entries()) {
    const lengthBytes = size < 128 ? 1 : size < 16384 ? 2 : 3;
    let value = 0;
    let multiplier = 1;
    let used = 0;
    for (;;) {
      const byte = bytes[at + 1 + used]!;
      used++;
      value += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) break;
    }
    assert.equal(value, size, `packet ${i}`);
    assert.equal(used, lengthBytes, `packet ${i}: ${used} length bytes for ${size}`);
    at += 1 + used + value;
  }
  receiver.destroy();
  sender.destroy();
});

test('[MQTT-3.3.2-1] a Topic Name that is not well-formed UTF-8 makes the PUBLISH malformed', async () => {
  const client = await v5();
  client.sendBytes(withIllFormedUtf8(pub('topic/QQ', 'x'), 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x81);
});

test('[MQTT-3.10.3-1] an UNSUBSCRIBE Topic Filter that is not well-formed UTF-8 makes the packet malformed', async () => {
  const client = await v5();
  client.sendBytes(withIllFormedUtf8({ type: 'unsubscribe', packetId: 1, filters: ['filter/QQ'] }, 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x81);
});

test('[MQTT-3.1.2-16] [MQTT-3.1.2-17] [MQTT-3.1.2-18] [MQTT-3.1.2-19] v5: a User Name or Password must be present exactly when its flag is set', async () => {
  // CONNECT v5 by hand: Connect Flags as given, property length 0, then the payload strings
  const rawConnect = (flags: number, fields: string[]): Buffer => {
    const parts = fields.map((field) => Buffer.concat([Buffer.from([0, Buffer.byteLength(field)]), Buffer.from(field)]));
    const body = Buffer.concat([Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, flags, 0x00, 0x00, 0x00]), ...parts]);
    return Buffer.concat([Buffer.from([0x10, body.length]), body]);
  };
  for (const [flags, fields] of [
    [0x02, [unique('u'), 'user']], // no User Name flag, a stray User Name
    [0x82, [unique('u')]], // User Name flag, no User Name
    [0x82, [unique('u'), 'user', 'secret']], // no Password flag, a stray Password
    [0xc2, [unique('u'), 'user']], // Password flag, no Password
  ] as const) {
    const client = await RawClient.open(broker.port, 5);
    client.sendBytes(rawConnect(flags, [...fields]));
    const packets = await client.closedByBroker();
    assert.equal(packets.length, 1);
    assert.equal((packets[0] as ConnackPacket).reasonCode, 0x81, `flags ${flags.toString(16)}`);
  }
  const good = await RawClient.open(broker.port, 5);
  good.sendBytes(rawConnect(0xc2, [unique('u'), 'user', 'secret']));
  assert.equal((await good.expect('connack')).reasonCode, 0);
  good.destroy();
});

test('[MQTT-3.2.2-14] a retained PUBLISH to a server without retained messages gets DISCONNECT 0x9A', async () => {
  const limited = await startBroker({ retainAvailable: false });
  try {
    const { client, connack } = await open({}, limited.port);
    assert.equal(connack.properties?.retainAvailable, 0);
    client.send(pub('r', 'x', 0, { retain: true }));
    const packets = await client.closedByBroker();
    assert.equal(packets.length, 1);
    assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x9a);
  } finally {
    await limited.close();
  }
});

test('[MQTT-3.2.2-15] a packet larger than the server\'s Maximum Packet Size gets DISCONNECT 0x95', async () => {
  const limited = await startBroker({ maxPacketSize: 100 });
  try {
    const { client, connack } = await open({}, limited.port);
    assert.equal(connack.properties?.maximumPacketSize, 100);
    client.send(pub('big', 'x'.repeat(200)));
    const packets = await client.closedByBroker();
    assert.equal(packets.length, 1);
    assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x95);
  } finally {
    await limited.close();
  }
});

test('[MQTT-3.2.2-17] [MQTT-3.2.2-18] [MQTT-3.3.2-9] a Topic Alias above the server\'s Topic Alias Maximum, or any with none, gets DISCONNECT 0x94', async () => {
  const none = await startBroker({ maxTopicAlias: 0 });
  try {
    const { client, connack } = await open({}, none.port);
    assert.equal(connack.properties?.topicAliasMaximum, undefined);
    client.send(pub('t', 'x', 0, { properties: { topicAlias: 1 } }));
    const packets = await client.closedByBroker();
    assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x94);
  } finally {
    await none.close();
  }
  const { client, connack } = await open();
  const maximum = connack.properties?.topicAliasMaximum ?? 0;
  assert.ok(maximum > 0);
  client.send(pub('t', 'x', 0, { properties: { topicAlias: maximum } }));
  client.send(pub('t', 'x', 0, { properties: { topicAlias: maximum + 1 } }));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x94);
});

test('[MQTT-3.7.2-2] [MQTT-3.7.2-3] a PUBCOMP leaves out its Reason String where it would exceed the client\'s Maximum Packet Size', async () => {
  const roomy = await v5();
  roomy.send({ type: 'pubrel', packetId: 77 });
  assert.ok((await roomy.expect('pubcomp')).properties?.reasonString !== undefined, 'the control case has no Reason String');
  const tight = await v5({ properties: { maximumPacketSize: 10 } });
  tight.send({ type: 'pubrel', packetId: 77 });
  const pubcomp = await tight.expect('pubcomp');
  assert.equal(pubcomp.reasonCode, 0x92);
  assert.equal(pubcomp.properties, undefined);
  roomy.destroy();
  tight.destroy();
});

test('[MQTT-4.8.2-5] a QoS 2 message sent to a shared-subscription member whose session ends is not sent to another member', async () => {
  const topic = unique('shared-q2-ends');
  const first = await v5();
  await subscribe(first, [sub(`$share/g5/${topic}`)]);
  const sender = await v5();
  sender.send(pub(topic, 'in flight', 2, { packetId: 1 }));
  await sender.expect('pubrec');
  sender.send({ type: 'pubrel', packetId: 1 });
  await sender.expect('pubcomp');
  const got = await first.expect('publish');
  assert.equal(got.qos, 2);
  const second = await v5();
  await subscribe(second, [sub(`$share/g5/${topic}`)]);
  first.destroy(); // Session Expiry Interval 0: the session ends before the delivery completed
  assert.ok(await second.nothingWithin(300), 'the QoS 2 message went to another member');
  second.destroy();
  sender.destroy();
});
