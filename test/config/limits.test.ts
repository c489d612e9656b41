// Limits set in the configuration file reach the running broker: max_connections per listener,
// message_size_limit, max_inflight_messages, max_queued_messages / max_queued_bytes, and Culex's own
// max_topic_levels, max_subscriptions_per_client, receive_maximum and topic_alias_out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { findFreePort } from '../helpers/ports.js';
import { RawClient } from '../helpers/raw-client.js';
import type { Packet } from '../../src/protocol/packets.js';

/** MQTT's Variable Byte Integer (§1.5.5), for a hand-made fixed header. */
function variableByteInteger(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return bytes;
}

async function run(lines: (port: number) => string): Promise<{ running: AssembledBroker; port: number }> {
  const port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-limits-')), 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\nallow_anonymous true\n${lines(port)}`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  return { running: await assemble(config, { logger: silentLogger }), port };
}

function subscribe(client: RawClient, packetId: number, ...filters: string[]): void {
  client.send({ type: 'subscribe', packetId, subscriptions: filters.map((filter) => ({ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 })) });
}

test('max_connections refuses connections beyond the limit on that listener; a freed slot is usable again', async () => {
  const { running, port } = await run(() => 'max_connections 2\n');
  const clients: RawClient[] = [];
  try {
    clients.push(await RawClient.connected(port), await RawClient.connected(port));
    const third = await RawClient.open(port);
    clients.push(third);
    third.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId: 'third' });
    assert.deepEqual(await third.closedByBroker(2000), [], 'the third connection is closed without a CONNACK');
    clients[0]!.destroy();
    // The server's count drops once it sees the close; retry briefly.
    let fourth: RawClient | undefined;
    for (let attempt = 0; fourth === undefined && attempt < 20; attempt++) {
      fourth = await RawClient.connected(port).catch(() => undefined);
      if (fourth === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(fourth, 'a connection is accepted again once one has closed');
    clients.push(fourth);
  } finally {
    for (const client of clients) client.destroy();
    await running.close();
  }
});

test('max_topic_levels refuses a SUBSCRIBE filter with more levels (v5 0x8F, 3.1.1 0x80)', async () => {
  const { running, port } = await run(() => 'max_topic_levels 3\n');
  try {
    const v5 = await RawClient.connected(port, { protocolVersion: 5 });
    subscribe(v5, 1, 'a/b/c', 'a/b/c/d', '$share/g/a/b/c');
    assert.deepEqual((await v5.expect('suback')).reasonCodes, [0, ReasonCode.TopicFilterInvalid, 0]);
    v5.destroy();
    const v4 = await RawClient.connected(port);
    subscribe(v4, 1, 'a/+/#', 'a/b/c/d');
    assert.deepEqual((await v4.expect('suback')).reasonCodes, [0, 0x80]);
    v4.destroy();
  } finally {
    await running.close();
  }
});

test('max_subscriptions_per_client refuses subscriptions beyond the limit (v5 0x97 Quota exceeded); re-subscribing an existing filter is allowed', async () => {
  const { running, port } = await run(() => 'max_subscriptions_per_client 2\n');
  try {
    const client = await RawClient.connected(port, { protocolVersion: 5 });
    // One filter per SUBSCRIBE here; test/broker/mqtt5.test.ts covers several filters in one packet.
    subscribe(client, 1, 'one');
    subscribe(client, 2, 'two');
    subscribe(client, 3, 'three');
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push(...(await client.expect('suback')).reasonCodes);
    assert.deepEqual(codes, [0, 0, ReasonCode.QuotaExceeded]);
    subscribe(client, 4, 'two');
    assert.deepEqual((await client.expect('suback')).reasonCodes, [0]);
    client.destroy();
  } finally {
    await running.close();
  }
});

function subscribeAtQos1(client: RawClient, filter: string): void {
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
}

function publish(client: RawClient, topic: string, payload: Buffer | string, qos: 0 | 1, packetId?: number): void {
  client.send({ type: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos > 0 ? { packetId } : {}) });
}

/** The PUBLISH packets a client receives until `count` have come, in order of arrival. */
async function received(client: RawClient, count: number): Promise<Extract<Packet, { type: 'publish' }>[]> {
  const seen: Extract<Packet, { type: 'publish' }>[] = [];
  while (seen.length < count) seen.push(await client.expect('publish'));
  return seen;
}

test('message_size_limit: a larger PUBLISH is acknowledged and dropped (v5 PUBACK 0x83), a smaller one delivered', async () => {
  const { running, port } = await run(() => 'message_size_limit 1000\n');
  const clients: RawClient[] = [];
  try {
    const reader = await RawClient.connected(port, { clientId: 'reader' });
    clients.push(reader);
    subscribe(reader, 1, 'size/#');
    await reader.expect('suback');
    for (const version of [4, 5] as const) {
      const writer = await RawClient.connected(port, { protocolVersion: version });
      clients.push(writer);
      publish(writer, `size/big-v${version}`, Buffer.alloc(1001, 0x61), 1, 1);
      const ack = await writer.expect('puback');
      assert.equal(ack.reasonCode ?? 0, version === 5 ? ReasonCode.ImplementationSpecificError : 0);
      publish(writer, `size/fits-v${version}`, Buffer.alloc(1000, 0x61), 1, 2);
      assert.equal((await writer.expect('puback')).reasonCode ?? 0, 0);
      assert.equal((await reader.expect('publish')).topic, `size/fits-v${version}`, 'the larger one never reached the reader');
    }
  } finally {
    for (const client of clients) client.destroy();
    await running.close();
  }
});

test('message_size_limit: a PUBLISH whose fixed header announces more than the limit plus its largest headers is refused from the fixed header (v5 DISCONNECT 0x95), its body never read', async () => {
  const { running, port } = await run(() => 'message_size_limit 1000\n');
  try {
    for (const version of [4, 5] as const) {
      const client = await RawClient.connected(port, { protocolVersion: version });
      // Remaining Length 268,435,455 (0xff 0xff 0xff 0x7f), then nothing: a broker waiting for the body would never answer.
      client.sendBytes([0x32, 0xff, 0xff, 0xff, 0x7f]);
      const before = await client.closedByBroker(3000);
      if (version === 5) assert.deepEqual(before.map((packet) => [packet.type, (packet as { reasonCode?: number }).reasonCode]), [['disconnect', ReasonCode.PacketTooLarge]]);
      else assert.deepEqual(before, [], '3.1.1 has no DISCONNECT from the server: the connection just closes');
    }
    // 200 KiB over the limit is more than a topic, a packet id and 64 KiB of properties can take.
    const client = await RawClient.connected(port, { protocolVersion: 5 });
    client.sendBytes([0x32, ...variableByteInteger(1000 + 200 * 1024)]);
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.PacketTooLarge);
  } finally {
    await running.close();
  }
});

test('max_inflight_messages and max_queued_messages: a subscriber that does not acknowledge gets that many QoS 1 messages in flight, the queue holds the next ones and drops the newest beyond it; QoS 0 never waits in the queue', async () => {
  const { running, port } = await run(() => 'max_inflight_messages 2\nmax_queued_messages 2\n');
  const clients: RawClient[] = [];
  try {
    const reader = await RawClient.connected(port, { clientId: 'slow-reader' });
    clients.push(reader);
    subscribeAtQos1(reader, 'q/#');
    await reader.expect('suback');
    const writer = await RawClient.connected(port);
    clients.push(writer);
    for (let i = 1; i <= 6; i++) {
      publish(writer, `q/one/${i}`, 'x', 1, i);
      publish(writer, `q/zero/${i}`, 'x', 0);
    }
    for (let i = 1; i <= 6; i++) await writer.expect('puback');
    // in flight: one/1, one/2; queued: one/3, one/4; dropped: one/5, one/6. Every QoS 0 goes out at once.
    const first = await received(reader, 8);
    assert.deepEqual(first.map((p) => p.topic), ['q/one/1', 'q/zero/1', 'q/one/2', 'q/zero/2', 'q/zero/3', 'q/zero/4', 'q/zero/5', 'q/zero/6']);
    assert.ok(await reader.nothingWithin(100), 'nothing beyond the in-flight window');
    for (const message of first.filter((p) => p.qos === 1)) reader.send({ type: 'puback', packetId: message.packetId! });
    const rest = await received(reader, 2);
    assert.deepEqual(rest.map((p) => p.topic), ['q/one/3', 'q/one/4']);
    for (const message of rest) reader.send({ type: 'puback', packetId: message.packetId! });
    assert.ok(await reader.nothingWithin(100), 'one/5 and one/6 were dropped');
  } finally {
    for (const client of clients) client.destroy();
    await running.close();
  }
});

test('max_queued_messages and max_queued_bytes bound what a persistent session keeps while its client is away; QoS 0 is not kept at all', async () => {
  for (const limit of ['max_queued_messages 3', 'max_queued_bytes 300']) {
    const { running, port } = await run(() => `${limit}\n`);
    try {
      const away = await RawClient.connected(port, { clientId: 'away', clean: false });
      subscribeAtQos1(away, 'q/#');
      await away.expect('suback');
      away.send({ type: 'disconnect' });
      await away.closedByBroker();
      const writer = await RawClient.connected(port);
      for (let i = 1; i <= 5; i++) {
        publish(writer, `q/zero/${i}`, Buffer.alloc(100, 0x61), 0);
        publish(writer, `q/one/${i}`, Buffer.alloc(100, 0x61), 1, i);
      }
      for (let i = 1; i <= 5; i++) await writer.expect('puback');
      writer.destroy();
      const back = await RawClient.open(port);
      back.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: false, keepalive: 0, clientId: 'away' });
      assert.equal((await back.expect('connack')).sessionPresent, true);
      const kept = await received(back, 3);
      assert.deepEqual(kept.map((p) => p.topic), ['q/one/1', 'q/one/2', 'q/one/3'], limit);
      for (const message of kept) back.send({ type: 'puback', packetId: message.packetId! });
      assert.ok(await back.nothingWithin(100), `${limit}: the newest were dropped, no QoS 0 was queued`);
      back.destroy();
    } finally {
      await running.close();
    }
  }
});

test('[MQTT-3.3.4-7] receive_maximum is the Receive Maximum in CONNACK, and one QoS 2 flow more than it is DISCONNECT 0x93', async () => {
  const { running, port } = await run(() => 'receive_maximum 3\n');
  try {
    const client = await RawClient.open(port, 5);
    client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: 'flow' });
    assert.equal((await client.expect('connack')).properties?.receiveMaximum, 3);
    for (let id = 1; id <= 4; id++) client.send({ type: 'publish', topic: 'flow', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, packetId: id });
    const packets = await client.closedByBroker();
    assert.deepEqual(packets.filter((p) => p.type === 'pubrec').map((p) => (p.type === 'pubrec' ? p.packetId : 0)), [1, 2, 3]);
    const disconnect = packets.find((p) => p.type === 'disconnect');
    assert.equal(disconnect?.type === 'disconnect' ? disconnect.reasonCode : undefined, ReasonCode.ReceiveMaximumExceeded);
  } finally {
    await running.close();
  }
});

test('topic_alias_out true: a v5 client that accepts aliases gets a topic once, then the alias alone; off by default', async () => {
  for (const [line, aliased] of [['topic_alias_out true\n', true], ['', false]] as const) {
    const { running, port } = await run(() => line);
    try {
      const reader = await RawClient.connected(port, { protocolVersion: 5, properties: { topicAliasMaximum: 4 } });
      subscribe(reader, 1, 'alias/#');
      await reader.expect('suback');
      const writer = await RawClient.connected(port, { protocolVersion: 5 });
      for (let i = 0; i < 2; i++) writer.send({ type: 'publish', topic: 'alias/long/topic', payload: Buffer.from(`m${i}`), qos: 0, retain: false, dup: false });
      const first = await reader.expect('publish');
      const second = await reader.expect('publish');
      if (aliased) {
        assert.deepEqual([first.topic, first.properties?.topicAlias], ['alias/long/topic', 1]);
        assert.deepEqual([second.topic, second.properties?.topicAlias], ['', 1]);
      } else {
        assert.deepEqual([first.topic, second.topic, first.properties?.topicAlias, second.properties?.topicAlias], ['alias/long/topic', 'alias/long/topic', undefined, undefined]);
      }
      reader.destroy();
      writer.destroy();
    } finally {
      await running.close();
    }
  }
});

test('the limit options are integers; a bad value names the option, file and line', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'culex-limits-')), 'mosquitto.conf');
  writeFileSync(file, 'max_topic_levels 4\nmax_subscriptions_per_client -1\n');
  const result = readMosquittoConf(file);
  assert.ok(result instanceof ConfigError);
  assert.match(result.lines()[0]!, /^Error: Invalid max_subscriptions_per_client value \(-1\)/);
  assert.equal(result.lines()[1], `Error found at ${file}:2.`);
  writeFileSync(file, 'receive_maximum 10\nreceive_maximum 0\n');
  const zero = readMosquittoConf(file);
  assert.ok(zero instanceof ConfigError, 'a Receive Maximum of 0 is a Protocol Error (MQTT 5.0 §3.2.2.3.3): refused at start-up');
  assert.match(zero.lines()[0]!, /receive_maximum/);
  assert.equal(zero.lines()[1], `Error found at ${file}:2.`);
});
