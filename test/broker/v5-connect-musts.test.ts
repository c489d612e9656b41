// MQTT 5.0 server MUSTs of CONNECT, CONNACK and DISCONNECT on the wire, one behaviour per test, each
// titled with the statements it proves (MQTT 5.0 numbering); 3.1.1's are in v311-musts.test.ts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { unique, connectPacket, sub, pub, subscribe, withIllFormedUtf8, openV5, connectedV5 } from '../helpers/v5-wire.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ConnectPacket, ConnackPacket, Properties, PublishPacket } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker({ responseInformationPrefix: 'responses' });
});
after(() => broker.close());

const open = (fields: Partial<ConnectPacket> = {}, port = broker.port) => openV5(port, fields);
const v5 = (fields: Partial<ConnectPacket> = {}, port = broker.port): Promise<RawClient> => connectedV5(port, fields);

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
