// The HTTP admin endpoint (Culex-only metrics_listener): Prometheus text exposition on /metrics and
// a probe on /healthz, requested over real HTTP while MQTT.js clients move the counters.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';

function confFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'culex-metrics-')), 'culex.conf');
  writeFileSync(file, text);
  return file;
}

async function run(metricsLine: (port: number) => string): Promise<{ running: AssembledBroker; url: string; http: string }> {
  const port = await findFreePort();
  const metricsPort = await findFreePort();
  const config = readMosquittoConf(confFile(`listener ${port} 127.0.0.1\nallow_anonymous true\n${metricsLine(metricsPort)}`));
  if (config instanceof ConfigError) assert.fail(config.toString());
  const running = await assemble(config, { logger: silentLogger });
  return { running, url: `mqtt://127.0.0.1:${port}`, http: `http://127.0.0.1:${running.metrics?.port ?? metricsPort}` };
}

/** Parses the text exposition format: sample values by name, and every TYPE line. */
async function scrape(http: string): Promise<{ samples: Map<string, number>; types: Map<string, string>; contentType: string | null }> {
  const response = await fetch(`${http}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const sample = /^(culex_[a-z_]+) (\d+)$/.exec(line);
    assert.ok(sample, `not a valid sample line: ${JSON.stringify(line)}`);
    samples.set(sample[1]!, Number(sample[2]));
  }
  return { samples, types, contentType: response.headers.get('content-type') };
}

test('/metrics speaks Prometheus text format 0.0.4: culex_ names, a TYPE for each, counters end in _total', async () => {
  const { running, http } = await run((port) => `metrics_listener ${port}\n`);
  try {
    const { samples, types, contentType } = await scrape(http);
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.ok(samples.size >= 20, `${samples.size} metrics`);
    for (const name of samples.keys()) {
      assert.ok(types.has(name), `${name} has a TYPE line`);
      assert.equal(types.get(name) === 'counter', name.endsWith('_total'), `${name} is a ${types.get(name)}`);
    }
    for (const name of ['culex_clients_connected', 'culex_publish_received_total', 'culex_publish_sent_total', 'culex_received_bytes_total', 'culex_retained_messages', 'culex_subscriptions', 'culex_uptime_seconds']) {
      assert.ok(samples.has(name), name);
    }
  } finally {
    await running.close();
  }
});

test('/metrics counters and gauges follow the traffic: clients, subscriptions, publishes in and out, retained', async () => {
  const { running, url, http } = await run((port) => `metrics_listener ${port} 127.0.0.1\n`);
  const subscriber = await connectPeer(url, { clientId: 'metrics-sub' });
  const publisher = await connectPeer(url, { clientId: 'metrics-pub' });
  try {
    await subscriber.client.subscribeAsync('m/#', { qos: 1 });
    const before = (await scrape(http)).samples;
    assert.equal(before.get('culex_clients_connected'), 2);
    assert.equal(before.get('culex_subscriptions'), 1);
    for (let i = 0; i < 7; i++) await publisher.client.publishAsync(`m/${i}`, 'x'.repeat(10), { qos: 1 });
    await publisher.client.publishAsync('m/kept', 'retained', { qos: 1, retain: true });
    await subscriber.inbox.take(8, 10_000);
    const after = (await scrape(http)).samples;
    assert.equal(after.get('culex_publish_received_total')! - before.get('culex_publish_received_total')!, 8);
    assert.equal(after.get('culex_publish_sent_total')! - before.get('culex_publish_sent_total')!, 8);
    assert.equal(after.get('culex_publish_received_bytes_total')! - before.get('culex_publish_received_bytes_total')!, 7 * 10 + 'retained'.length);
    assert.ok(after.get('culex_received_bytes_total')! > before.get('culex_received_bytes_total')!);
    // $SYS messages are retained too (as Mosquitto counts them), so the change is what counts
    assert.equal(after.get('culex_retained_messages')! - before.get('culex_retained_messages')!, 1);
    assert.ok(after.get('culex_store_bytes')! >= 'retained'.length);
    await endPeers(publisher);
    const deadline = Date.now() + 5000;
    let connected = 2;
    while (Date.now() < deadline && connected !== 1) connected = (await scrape(http)).samples.get('culex_clients_connected')!;
    assert.equal(connected, 1);
  } finally {
    await endPeers(subscriber, publisher);
    await running.close();
  }
});

test('/healthz answers 200 ok; other paths 404; other methods 405', async () => {
  const { running, http } = await run((port) => `metrics_listener ${port}\n`);
  try {
    const health = await fetch(`${http}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    assert.equal((await fetch(`${http}/nothing`)).status, 404);
    const post = await fetch(`${http}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await running.close();
  }
});

test('the admin endpoint is off by default, and binds loopback when metrics_listener names no address', async () => {
  const { running } = await run(() => '');
  try {
    assert.equal(running.metrics, undefined);
  } finally {
    await running.close();
  }
  const config = readMosquittoConf(confFile('metrics_listener 9234\n'));
  if (config instanceof ConfigError) assert.fail(config.toString());
  assert.deepEqual({ port: config.metricsListener?.port, address: config.metricsListener?.address }, { port: 9234, address: '127.0.0.1' });
});

test('metrics_listener errors name the file and line: bad port, duplicate, extra words', () => {
  for (const [text, message] of [
    ['metrics_listener 0\n', /Invalid metrics_listener value \(0\)/],
    ['metrics_listener 9234\nmetrics_listener 9235\n', /Duplicate metrics_listener/],
    ['metrics_listener 9234 127.0.0.1 extra\n', /takes a port and an optional address/],
  ] as const) {
    const file = confFile(text);
    const error = readMosquittoConf(file);
    assert.ok(error instanceof ConfigError, text);
    assert.match(error.lines()[0]!, message);
    assert.match(error.lines()[1]!, new RegExp(`^Error found at ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d\\.$`));
  }
});
