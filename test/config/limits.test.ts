// Limits set in the configuration file reach the running broker: max_connections per listener, and
// Culex's own max_topic_levels and max_subscriptions_per_client.

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

test('the limit options are integers; a bad value names the option, file and line', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'culex-limits-')), 'mosquitto.conf');
  writeFileSync(file, 'max_topic_levels 4\nmax_subscriptions_per_client -1\n');
  const result = readMosquittoConf(file);
  assert.ok(result instanceof ConfigError);
  assert.match(result.lines()[0]!, /^Error: Invalid max_subscriptions_per_client value \(-1\)/);
  assert.equal(result.lines()[1], `Error found at ${file}:2.`);
});
