// MQTT 5.0 server MUSTs of PUBLISH and its acknowledgements on the wire, one behaviour per test, each
// titled with the statements it proves (MQTT 5.0 numbering).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { unique, sub, pub, subscribe, withIllFormedUtf8, connectedV5 } from '../helpers/v5-wire.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ConnectPacket } from '../../src/protocol/packets.js';

let broker: TestBroker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.close());

const v5 = (fields: Partial<ConnectPacket> = {}, port = broker.port): Promise<RawClient> => connectedV5(port, fields);

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
