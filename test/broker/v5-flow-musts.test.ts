// MQTT 5.0 server MUSTs of sessions, the QoS 1/2 flows, ordering and flow control on the wire, one
// behaviour per test, each titled with the statements it proves (MQTT 5.0 numbering).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { unique, connectPacket, sub, pub, subscribe, openV5, connectedV5 } from '../helpers/v5-wire.js';
import type { ConnectPacket, QoS } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.close());

const open = (fields: Partial<ConnectPacket> = {}, port = broker.port) => openV5(port, fields);
const v5 = (fields: Partial<ConnectPacket> = {}, port = broker.port): Promise<RawClient> => connectedV5(port, fields);

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

test('[MQTT-4.4.0-1] [MQTT-3.3.4-9] a client back with a smaller Receive Maximum gets its unacknowledged messages resent with their ids, no more at once than it allows, then the queue', async () => {
  const clientId = unique('shrunk-window');
  const topic = unique('shrunk-window');
  const receiver = await v5({ clientId, clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 4 } });
  await subscribe(receiver, [sub(topic, { qos: 1 })]);
  const sender = await v5();
  for (let i = 1; i <= 5; i++) sender.send(pub(topic, `m${i}`, 1, { packetId: i }));
  for (let i = 1; i <= 5; i++) await sender.expect('puback');
  const inFlight = [];
  for (let i = 1; i <= 4; i++) inFlight.push(await receiver.expect('publish'));
  receiver.destroy();
  const back = await RawClient.open(broker.port, 5);
  back.send(connectPacket({ clientId, clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 2 } }));
  assert.equal((await back.expect('connack')).sessionPresent, true);
  const seen = [await back.expect('publish'), await back.expect('publish')];
  assert.ok(await back.nothingWithin(150), 'more than the Receive Maximum of 2 in flight');
  for (let next = 2; next < 4; next++) {
    back.send({ type: 'puback', packetId: seen[next - 2]!.packetId! });
    seen.push(await back.expect('publish'));
  }
  assert.deepEqual(seen.map((p) => [p.packetId, p.dup, p.payload.toString()]), inFlight.map((p) => [p.packetId, true, p.payload.toString()]));
  back.send({ type: 'puback', packetId: seen[2]!.packetId! });
  const queued = await back.expect('publish');
  assert.deepEqual([queued.dup, queued.payload.toString()], [false, 'm5'], 'the queued message comes after every resend, as new');
  back.send({ type: 'puback', packetId: seen[3]!.packetId! });
  back.send({ type: 'puback', packetId: queued.packetId! });
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
