// Read fairness (src/transport/read-turns.ts): a connection that sends more than its per-turn read
// budget in one burst is paused and resumed on the next event-loop turn. What matters is that the
// yielding really happens and that it loses, reorders or duplicates nothing, whether the burst is
// also held back by the channel (an in-order acknowledgement) or not.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { encodePacket } from '../../src/protocol/writer.js';
import type { Packet } from '../../src/protocol/packets.js';
import { readTurns } from '../../src/transport/read-turns.js';
import type { Authorizer } from '../../src/auth/port.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

const messages = 3000;
const payloadBytes = 1024;

/** A client subscribed to `filter` at QoS 0. */
async function subscribedQos0(port: number, clientId: string, filter: string): Promise<RawClient> {
  const subscriber = await RawClient.connected(port, { clientId });
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await subscriber.expect('suback');
  return subscriber;
}

/** `count` QoS 0 PUBLISH packets whose 4-byte payload is their number. */
function numberedQos0(count: number, topic: (i: number) => string): Buffer[] {
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(i, 0);
    packets.push(encodePacket({ type: 'publish', topic: topic(i), payload, qos: 0, retain: false, dup: false }, 4));
  }
  return packets;
}

/** The `count` numbered messages, each once and in order. */
async function expectNumbered(subscriber: RawClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const publish = await subscriber.expect('publish', 20_000);
    assert.equal(publish.payload.readUInt32BE(0), i, `message ${i} out of order or missing`);
  }
}

test('a 3 MiB burst of QoS 1 PUBLISH in one write yields the event loop and is delivered whole and in order [MQTT-4.6.0-2] [MQTT-4.6.0-3]', { timeout: 60_000 }, async () => {
  // the whole burst may be queued for the subscriber: no queue limit drops any of it
  const broker = await startBroker({ maxQueuedMessages: 0 });
  try {
    const subscriber = await RawClient.connected(broker.port, { clientId: 'burst-subscriber' });
    subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'burst/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    await subscriber.expect('suback');
    const publisher = await RawClient.connected(broker.port, { clientId: 'burst-publisher' });

    const packets: Buffer[] = [];
    for (let i = 0; i < messages; i++) {
      const payload = Buffer.alloc(payloadBytes, i % 251);
      payload.writeUInt32BE(i, 0);
      const packet: Packet = { type: 'publish', topic: `burst/${i % 7}`, payload, qos: 1, retain: false, dup: false, packetId: (i % 65535) + 1 };
      packets.push(encodePacket(packet, 4));
    }
    const yieldsBefore = readTurns.yields;
    publisher.sendBytes(Buffer.concat(packets)); // one write: the broker reads it as fast as TCP brings it

    // Every PUBACK, in the order the messages were sent [MQTT-4.6.0-2]; meanwhile every message,
    // once and in order, to the subscriber, which acknowledges as it goes [MQTT-4.6.0-3].
    const acknowledged = (async () => {
      for (let i = 0; i < messages; i++) {
        const ack = await publisher.expect('puback', 20_000);
        assert.equal(ack.packetId, (i % 65535) + 1, `PUBACK ${i}`);
      }
    })();
    const delivered = (async () => {
      for (let i = 0; i < messages; i++) {
        const publish = await subscriber.expect('publish', 20_000);
        assert.equal(publish.payload.readUInt32BE(0), i, `message ${i} out of order or missing`);
        assert.equal(publish.payload.length, payloadBytes);
        subscriber.send({ type: 'puback', packetId: publish.packetId! });
      }
    })();
    await Promise.all([acknowledged, delivered]);
    assert.ok(await subscriber.nothingWithin(200), 'no duplicate after the last message');
    assert.ok(readTurns.yields > yieldsBefore, 'the burst made its connection yield at least once');
    publisher.destroy();
    subscriber.destroy();
  } finally {
    await broker.close();
  }
});

test('the read budget is per turn: a publisher that sends a little in each of many turns never yields, and loses nothing [MQTT-4.6.0-2]', { timeout: 60_000 }, async () => {
  const broker = await startBroker();
  try {
    const publisher = await RawClient.connected(broker.port, { clientId: 'steady-publisher' });
    const yieldsBefore = readTurns.yields;
    const count = 200; // 200 KiB in all, three times the 64 KiB budget, one message per turn
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(payloadBytes, i % 251);
      publisher.send({ type: 'publish', topic: 'steady', payload, qos: 1, retain: false, dup: false, packetId: i + 1 });
      const ack = await publisher.expect('puback', 10_000); // the next message only after this one's turn
      assert.equal(ack.packetId, i + 1);
    }
    assert.equal(readTurns.yields, yieldsBefore, 'a connection under its budget in every turn was paused');
    publisher.destroy();
  } finally {
    await broker.close();
  }
});

test('the packet budget: 2,000 small PUBLISH packets in one write (under the byte budget) yield the event loop, and the rest of the chunk is parsed on the next turn, whole and in order [MQTT-4.6.0-6]', { timeout: 60_000 }, async () => {
  const broker = await startBroker({ maxQueuedMessages: 0 });
  try {
    const subscriber = await subscribedQos0(broker.port, 'small-burst-subscriber', 'small/#');
    const publisher = await RawClient.connected(broker.port, { clientId: 'small-burst-publisher' });
    const count = 2000; // about 50 KB: one or two socket chunks, but eight times the 256-packet budget
    assert.ok(count > readTurns.packets * 4);
    const packets = numberedQos0(count, (i) => `small/${i % 3}`);
    packets.push(encodePacket({ type: 'pingreq' }, 4)); // the chunk's last packet is answered too
    const yieldsBefore = readTurns.yields;
    publisher.sendBytes(Buffer.concat(packets));
    // QoS 0 from one publisher to one subscriber keeps its order [MQTT-4.6.0-6]
    await expectNumbered(subscriber, count);
    await publisher.expect('pingresp', 10_000);
    assert.ok(await subscriber.nothingWithin(200), 'no duplicate after the last message');
    assert.ok(readTurns.yields > yieldsBefore, 'the burst made its connection yield at least once');
    publisher.destroy();
    subscriber.destroy();
  } finally {
    await broker.close();
  }
});

test('the time slice: packets that each take 0.1 ms (a slow authorizer) make their connection yield after about half a millisecond, well under the packet budget, and nothing is lost [MQTT-4.6.0-6]', { timeout: 60_000 }, async () => {
  // a synchronous authorizer that spends 0.1 ms per PUBLISH: code that is still cold costs the same way
  const slow: Authorizer = {
    canPublish: () => {
      const until = performance.now() + 0.1;
      while (performance.now() < until);
      return true;
    },
    canSubscribe: (_client, _filter, qos) => qos,
    canReceive: () => true,
  };
  const broker = await startBroker({ authorizer: slow, maxQueuedMessages: 0 });
  try {
    const subscriber = await subscribedQos0(broker.port, 'slice-subscriber', 'slice/#');
    const publisher = await RawClient.connected(broker.port, { clientId: 'slice-publisher' });
    const count = 200; // under the 256-packet budget and far under 64 KiB: only the clock can make it yield
    assert.ok(count < readTurns.packets && count * 0.1 > readTurns.sliceMs * 4);
    const packets = numberedQos0(count, () => 'slice/t');
    const yieldsBefore = readTurns.yields;
    publisher.sendBytes(Buffer.concat(packets));
    await expectNumbered(subscriber, count);
    assert.ok(readTurns.yields > yieldsBefore, 'the slow burst made its connection yield');
    publisher.destroy();
    subscriber.destroy();
  } finally {
    await broker.close();
  }
});
