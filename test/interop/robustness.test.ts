// Hostile and careless peers against one broker, bounded in count and time, while a healthy MQTT.js
// client keeps exchanging messages through it: garbage and damaged packets, an oversized Remaining
// Length, sockets that never send CONNECT, and 1,000 connections opened and dropped. Afterwards the
// broker holds no connection or session for any of them, and its process has not grown without bound.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';
import {
  chunked,
  closedWithin,
  mutate,
  openSocket,
  randomBytes,
  randomInt,
  seededRandom,
  sendAndHangUp,
  settledRss,
  validConversation,
} from '../helpers/hostile-peers.js';
import { encodePacket } from '../../src/protocol/writer.js';

const maxPacketSize = 64 * 1024;
const connectTimeoutSeconds = 1;
const seed = Number(process.env.CULEX_FUZZ_SEED ?? Date.now() % 2 ** 31);

let broker: TestBroker;
let rssBefore = 0;
let healthy: Healthy;

/** One well-behaved client publishing QoS 1 to itself every 10 ms, checking each message comes back in order. */
class Healthy {
  sent = 0;
  received = 0;
  outOfOrder = 0;
  closes = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly client: MqttClient,
    readonly topic: string,
  ) {
    client.on('message', (_topic, payload) => {
      if (Number(payload.toString()) !== this.received) this.outOfOrder++;
      this.received++;
      for (const wake of this.waiters.splice(0)) wake();
    });
    client.on('close', () => this.closes++);
  }

  start(): void {
    this.timer = setInterval(() => this.client.publish(this.topic, String(this.sent++), { qos: 1 }), 10);
  }

  /** Stops publishing and waits until everything sent has come back; false after timeoutMs. */
  async settle(timeoutMs = 5000): Promise<boolean> {
    clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    while (this.received < this.sent && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received === this.sent;
  }

  /** Resolves once `count` more messages have come back, proving the broker still serves it now. */
  async progress(count = 5, timeoutMs = 3000): Promise<void> {
    const target = this.received + count;
    const deadline = Date.now() + timeoutMs;
    while (this.received < target) {
      if (Date.now() >= deadline) throw new Error(`the healthy client stalled at ${this.received}/${this.sent}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Waits until the broker's connection set has `size` entries; false after timeoutMs. */
async function connectionsSettle(size: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (broker.culex.broker.connections.size !== size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return broker.culex.broker.connections.size === size;
}

before(async () => {
  broker = await startBroker({ maxPacketSize, connectTimeout: connectTimeoutSeconds });
  rssBefore = settledRss();
  const peer = await connectPeer(broker.url, { protocolVersion: 4, clientId: 'robust-healthy', keepalive: 10 });
  healthy = new Healthy(peer.client, `robust/healthy-${randomUUID()}`);
  await peer.client.subscribeAsync(healthy.topic, { qos: 1 });
  healthy.start();
});
after(async () => {
  if (healthy) await healthy.settle(1000);
  await endPeers(healthy?.client);
  await broker.close();
});

test('200 connections sending random bytes or damaged valid packets never disturb the broker or its other clients', async (t) => {
  t.diagnostic(`seed ${seed} (replay with CULEX_FUZZ_SEED=${seed})`);
  const random = seededRandom(seed);
  let closedByBroker = 0;
  for (let batch = 0; batch < 10; batch++) {
    const peers = Array.from({ length: 20 }, (_, i) => {
      const n = batch * 20 + i;
      const bytes =
        n % 2 === 0 ? randomBytes(random, 1 + randomInt(random, 512)) : mutate(random, validConversation(random, `fuzz-${n}`, `robust/fuzz/${n}`));
      return sendAndHangUp(broker.port, chunked(random, bytes), 250);
    });
    for (const closed of await Promise.all(peers)) if (closed) closedByBroker++;
  }
  t.diagnostic(`${closedByBroker} of 200 connections were closed by the broker within 250 ms`);
  await healthy.progress();
  assert.ok(await connectionsSettle(1), `only the healthy client is left, found ${broker.culex.broker.connections.size}`);
  assert.equal(healthy.closes, 0);
});

test('a packet above a v5 client\'s Maximum Packet Size is refused from its fixed header: DISCONNECT 0x95, body never buffered (MQTT 5.0 §3.2.2.3.6)', async () => {
  const client = await RawClient.open(broker.port, 5);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: 'robust-oversized-v5' });
  const connack = await client.expect('connack');
  assert.equal(connack.properties?.maximumPacketSize, maxPacketSize, 'the limit is advertised in CONNACK');
  const buffersBefore = process.memoryUsage().arrayBuffers;
  client.sendBytes([0x30, 0xff, 0xff, 0xff, 0x7f]); // PUBLISH claiming 268,435,455 bytes, none of them sent
  const disconnect = await client.expect('disconnect');
  assert.equal(disconnect.reasonCode, 0x95, 'Packet too large');
  await client.closedByBroker();
  const grown = process.memoryUsage().arrayBuffers - buffersBefore;
  assert.ok(grown < 16 * 1024 * 1024, `no buffer for the announced body (${grown} bytes of ArrayBuffers grown)`);
});

test('[MQTT-3.2.2-6] (3.1.1) an oversized Remaining Length closes a 3.1.1 connection, and one before CONNECT without a CONNACK', async () => {
  const client = await RawClient.connected(broker.port, { clientId: 'robust-oversized-v4' });
  client.sendBytes([0x30, 0xff, 0xff, 0xff, 0x7f]);
  assert.deepEqual(await client.closedByBroker(), [], 'no DISCONNECT in 3.1.1: the connection just closes');
  const early = await openSocket(broker.port);
  const outcome = closedWithin(early, 3000);
  early.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x01])); // CONNECT claiming 2 MB
  const { closed, received } = await outcome;
  assert.ok(closed, 'closed at once, well before connectTimeout');
  assert.equal(received.length, 0, 'no CONNACK: the protocol level of an unread CONNECT is unknown');
});

test(`a connection that never completes CONNECT is closed after connectTimeout (${connectTimeoutSeconds} s)`, async () => {
  const silent = await openSocket(broker.port);
  const partial = await openSocket(broker.port);
  const opened = Date.now();
  const outcomes = [closedWithin(silent, 4000), closedWithin(partial, 4000)];
  partial.write(encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId: 'half' }, 4).subarray(0, 6));
  for (const { closed, received } of await Promise.all(outcomes)) {
    const after = Date.now() - opened;
    assert.ok(closed, 'closed by the broker');
    assert.equal(received.length, 0, 'without a CONNACK');
    assert.ok(after >= connectTimeoutSeconds * 1000 - 100 && after < connectTimeoutSeconds * 1000 + 2000, `closed after ${after} ms`);
  }
  await healthy.progress();
});

test('1,000 connections opened and dropped in batches leave no connection or session behind', async (t) => {
  const random = seededRandom(seed + 1);
  const started = Date.now();
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const n = batch * 100 + i;
        const version = n % 2 === 0 ? 4 : 5;
        const socket = await openSocket(broker.port);
        const outcome = closedWithin(socket, 2000);
        const connect = encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, bridge: false, clean: true, keepalive: 30, clientId: `drop-${n}` }, version);
        switch (n % 4) {
          case 0: // open and drop
            socket.destroy();
            break;
          case 1: // CONNECT, then drop without waiting for CONNACK
            socket.end(connect);
            setTimeout(() => socket.destroy(), randomInt(random, 20));
            break;
          case 2: // CONNECT, CONNACK, then the network "fails"
            socket.write(connect);
            socket.once('data', () => socket.destroy());
            break;
          default: // CONNECT, CONNACK, DISCONNECT: a polite short visit
            socket.write(connect);
            socket.once('data', () => socket.end(encodePacket({ type: 'disconnect' }, version)));
        }
        assert.ok((await outcome).closed, `connection ${n} closed`);
      }),
    );
  }
  t.diagnostic(`1000 connections in ${Date.now() - started} ms`);
  await healthy.progress();
  assert.ok(await connectionsSettle(1), `only the healthy client is left, found ${broker.culex.broker.connections.size}`);
  assert.deepEqual([...broker.culex.broker.channels.keys()], ['robust-healthy']);
  const dropped = [...broker.culex.broker.sessions.keys()].filter((id) => id.startsWith('drop-'));
  assert.deepEqual(dropped, [], 'clean sessions ended with their connections');
});

test('afterwards the healthy client got every message in order, the connection set empties, and memory is bounded', async (t) => {
  assert.ok(await healthy.settle(), `healthy client: ${healthy.received} of ${healthy.sent} messages came back`);
  assert.equal(healthy.outOfOrder, 0);
  assert.equal(healthy.closes, 0, 'the healthy client was never disconnected');
  assert.ok(healthy.sent > 100, `the healthy client kept publishing throughout (${healthy.sent} messages)`);
  await endPeers(healthy.client);
  assert.ok(await connectionsSettle(0), `connections left: ${broker.culex.broker.connections.size}`);
  // A damaged CONNECT may have asked for a persistent session (Clean Session 0, or a Session Expiry
  // Interval): those stay, as they should; every other session is gone.
  const left = [...broker.culex.broker.sessions.values()].filter((session) => !(session.clientId.startsWith('fuzz-') && session.expiryInterval !== 0));
  assert.deepEqual(left.map((session) => session.clientId), []);
  const rssAfter = settledRss();
  const grownMb = (rssAfter - rssBefore) / 2 ** 20;
  t.diagnostic(`RSS ${(rssBefore / 2 ** 20).toFixed(1)} MB before, ${(rssAfter / 2 ** 20).toFixed(1)} MB after: ${grownMb.toFixed(1)} MB grown`);
  assert.ok(grownMb < 100, `RSS grew by ${grownMb.toFixed(1)} MB`);
});
