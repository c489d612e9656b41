// The $SYS/broker/... tree, read as operators read it: MQTT.js and Debian's mosquitto_sub subscribed
// to $SYS/# on a broker with sys_interval 1, while the counters move as messages flow.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { LoadAverage } from '../../src/observability/load-average.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { startCulexProcess } from '../helpers/culex-process.js';
import { runTool } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'culex-sys-')), 'culex.conf');
  writeFileSync(file, text);
  return file;
}

async function run(extra: string): Promise<{ running: AssembledBroker; url: string }> {
  const port = await findFreePort();
  const config = readMosquittoConf(configFile(`listener ${port} 127.0.0.1\nallow_anonymous true\n${extra}`));
  if (config instanceof ConfigError) assert.fail(config.toString());
  return { running: await assemble(config, { logger: silentLogger }), url: `mqtt://127.0.0.1:${port}` };
}

/** The latest value of every $SYS topic a client has received. */
function latestValues(client: MqttClient): Map<string, string> {
  const values = new Map<string, string>();
  client.on('message', (topic, payload) => values.set(topic, payload.toString()));
  return values;
}

/** Waits (bounded) until the topic's latest value satisfies the check; returns it. */
async function until(values: Map<string, string>, topic: string, check: (value: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = values.get(topic);
    if (value !== undefined && check(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${topic} never satisfied the check; last value ${JSON.stringify(values.get(topic))}`);
}

const atLeast = (n: number) => (value: string) => Number(value) >= n;

test('$SYS/broker topics are retained: a subscriber to $SYS/# gets version, uptime and the client and message figures at once', async () => {
  const { running, url } = await run('sys_interval 1\n');
  const watcher = await connectPeer(url, { clientId: 'sys-watcher' });
  try {
    const values = latestValues(watcher.client);
    await watcher.client.subscribeAsync('$SYS/#', { qos: 2 });
    assert.match(await until(values, '$SYS/broker/version', () => true), /^culex version \d+\.\d+\.\d+/);
    assert.match(await until(values, '$SYS/broker/uptime', () => true), /^\d+ seconds$/);
    for (const topic of ['clients/total', 'clients/maximum', 'clients/connected', 'clients/disconnected', 'clients/expired', 'messages/received', 'messages/sent', 'publish/messages/received', 'publish/messages/sent', 'publish/messages/dropped', 'bytes/received', 'bytes/sent', 'subscriptions/count', 'retained messages/count', 'store/messages/count', 'store/messages/bytes', 'heap/current']) {
      assert.match(await until(values, `$SYS/broker/${topic}`, () => true), /^\d+$/, topic);
    }
    for (const load of ['messages/received', 'publish/sent', 'bytes/received', 'sockets', 'connections']) {
      for (const window of ['1min', '5min', '15min']) assert.match(await until(values, `$SYS/broker/load/${load}/${window}`, () => true), /^\d+\.\d\d$/);
    }
    // the watcher itself is counted on a later update
    await until(values, '$SYS/broker/clients/connected', atLeast(1));
    await until(values, '$SYS/broker/subscriptions/count', atLeast(1));
  } finally {
    await endPeers(watcher);
    await running.close();
  }
});

test('$SYS counters move as messages flow: publish received and sent, bytes, retained count, clients connected', async () => {
  const { running, url } = await run('sys_interval 1\n');
  const watcher = await connectPeer(url, { clientId: 'sys-counter-watcher' });
  const subscriber = await connectPeer(url, { clientId: 'sys-sub' });
  const publisher = await connectPeer(url, { clientId: 'sys-pub' });
  try {
    const values = latestValues(watcher.client);
    await watcher.client.subscribeAsync('$SYS/broker/#', { qos: 0 });
    await subscriber.client.subscribeAsync('data/#', { qos: 1 });
    await until(values, '$SYS/broker/clients/connected', atLeast(3));
    const before = Number(await until(values, '$SYS/broker/publish/messages/received', () => true));
    const bytesBefore = Number(await until(values, '$SYS/broker/bytes/received', () => true));
    for (let i = 0; i < 10; i++) await publisher.client.publishAsync(`data/${i}`, `reading ${i}`, { qos: 1 });
    await publisher.client.publishAsync('data/retained', 'kept', { qos: 1, retain: true });
    await subscriber.inbox.take(11, 10_000);
    await until(values, '$SYS/broker/publish/messages/received', atLeast(before + 11));
    await until(values, '$SYS/broker/publish/messages/sent', atLeast(11));
    await until(values, '$SYS/broker/bytes/received', (v) => Number(v) > bytesBefore);
    await until(values, '$SYS/broker/retained messages/count', atLeast(1));
    await until(values, '$SYS/broker/load/publish/received/1min', (v) => Number(v) > 0);
    await endPeers(publisher);
    await until(values, '$SYS/broker/clients/connected', (v) => Number(v) === 2);
  } finally {
    await endPeers(watcher, subscriber, publisher);
    await running.close();
  }
});

test('clients cannot publish to $SYS: a forged $SYS/broker/version never reaches subscribers', async () => {
  const { running, url } = await run('sys_interval 1\n');
  const watcher = await connectPeer(url, { clientId: 'sys-forgery-watcher' });
  const forger = await connectPeer(url, { clientId: 'sys-forger' });
  try {
    const seen: string[] = [];
    watcher.client.on('message', (topic, payload) => {
      if (topic === '$SYS/broker/version') seen.push(payload.toString());
    });
    await watcher.client.subscribeAsync('$SYS/broker/version');
    await forger.client.publishAsync('$SYS/broker/version', 'forged', { qos: 1, retain: true });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(seen.length >= 1, 'the real version arrived');
    assert.ok(!seen.includes('forged'), `seen: ${seen.join(', ')}`);
  } finally {
    await endPeers(watcher, forger);
    await running.close();
  }
});

test('sys_interval 0 turns $SYS off', async () => {
  const { running, url } = await run('sys_interval 0\n');
  const watcher = await connectPeer(url, { clientId: 'sys-off' });
  try {
    await watcher.client.subscribeAsync('$SYS/#');
    assert.ok(await watcher.inbox.nothingWithin(2000), 'no $SYS message');
  } finally {
    await endPeers(watcher);
    await running.close();
  }
});

test('mosquitto_sub reads $SYS/broker/uptime and sees publish/messages/received grow after mosquitto_pub', async (t) => {
  if (!needTools(t, ['mosquitto_pub', 'mosquitto_sub'])) return;
  const broker = await startCulexProcess(['-c', configFile('sys_interval 1\n')]);
  try {
    const at = ['-h', '127.0.0.1', '-p', String(broker.port)];
    const uptime = await runTool('mosquitto_sub', [...at, '-t', '$SYS/broker/uptime', '-C', '1', '-W', '10', '-v']);
    assert.match(uptime.stdout, /^\$SYS\/broker\/uptime \d+ seconds\n$/);
    for (let i = 0; i < 3; i++) assert.equal((await runTool('mosquitto_pub', [...at, '-t', 'sys/test', '-m', `m${i}`, '-q', '1'])).code, 0);
    let received = 0;
    for (let attempt = 0; attempt < 20 && received < 3; attempt++) {
      const reading = await runTool('mosquitto_sub', [...at, '-t', '$SYS/broker/publish/messages/received', '-C', '1', '-W', '5']);
      received = Number(reading.stdout.trim());
      if (received < 3) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(received >= 3, `publish/messages/received = ${received}`);
  } finally {
    await broker.stop();
  }
});

test('load averages follow Mosquitto calc_load: a steady rate r per minute gives r·(1 − e^(−t/window))', () => {
  const oneMinute = new LoadAverage(60);
  const fiveMinutes = new LoadAverage(300);
  const perMinute = 120;
  const start = 1_000_000;
  assert.equal(oneMinute.sample(0, start), true, 'the first value is published');
  fiveMinutes.sample(0, start);
  for (let second = 10; second <= 120; second += 10) {
    oneMinute.sample((perMinute * second) / 60, start + second * 1000);
    fiveMinutes.sample((perMinute * second) / 60, start + second * 1000);
  }
  assert.ok(Math.abs(oneMinute.value - perMinute * (1 - Math.exp(-120 / 60))) < 1e-9, String(oneMinute.value));
  assert.ok(Math.abs(fiveMinutes.value - perMinute * (1 - Math.exp(-120 / 300))) < 1e-9, String(fiveMinutes.value));
  assert.equal(oneMinute.label, '1min');
  assert.equal(new LoadAverage(900).label, '15min');
  // a change below 0.01 is not republished
  const settled = new LoadAverage(60);
  settled.sample(0, start);
  assert.equal(settled.sample(0, start + 10_000), false);
});
