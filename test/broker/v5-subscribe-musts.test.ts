// MQTT 5.0 server MUSTs of SUBSCRIBE, UNSUBSCRIBE, topic matching and shared subscriptions on the
// wire, one behaviour per test, each titled with the statements it proves (MQTT 5.0 numbering).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { unique, connectPacket, sub, pub, subscribe, withIllFormedUtf8, openV5, connectedV5 } from '../helpers/v5-wire.js';
import type { ConnectPacket, PublishPacket } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.close());

const open = (fields: Partial<ConnectPacket> = {}, port = broker.port) => openV5(port, fields);
const v5 = (fields: Partial<ConnectPacket> = {}, port = broker.port): Promise<RawClient> => connectedV5(port, fields);

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

test('[MQTT-3.10.3-1] an UNSUBSCRIBE Topic Filter that is not well-formed UTF-8 makes the packet malformed', async () => {
  const client = await v5();
  client.sendBytes(withIllFormedUtf8({ type: 'unsubscribe', packetId: 1, filters: ['filter/QQ'] }, 'QQ'));
  const packets = await client.closedByBroker();
  assert.equal(packets.length, 1);
  assert.equal((packets[0] as { reasonCode: number }).reasonCode, 0x81);
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
