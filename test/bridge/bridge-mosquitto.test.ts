// Culex bridged to Debian's Mosquitto on loopback: messages in, out and both ways with prefix
// remapping, over MQTT 3.1.1 and 5.0 bridges, the notification topic's values at each step, and
// the remote stopped during QoS 1 traffic and started again.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { eventually, startCulexConf, startMosquittoConf, type CulexFromConf, type RunningBroker } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;

interface Pair {
  readonly edge: CulexFromConf;
  readonly central: RunningBroker;
  stop(): Promise<void>;
}

/** Mosquitto as the central broker, Culex as the edge with one bridge section to it. */
async function pair(bridgeLines: readonly string[], centralLines: readonly string[] = []): Promise<Pair> {
  const centralPort = await findFreePort();
  const central = await startMosquittoConf(centralPort, centralLines);
  const edgePort = await findFreePort();
  const edge = await startCulexConf(edgePort, [`listener ${edgePort} 127.0.0.1`, 'allow_anonymous true', 'connection edge', `address 127.0.0.1:${centralPort}`, 'restart_timeout 1', ...bridgeLines].join('\n'));
  return {
    edge,
    central,
    async stop() {
      await edge.stop();
      await central.stop();
    },
  };
}

const bridgeState = (p: Pair): string => p.edge.assembled.bridges.list[0]!.state;

async function connected(p: Pair): Promise<void> {
  await eventually(() => bridgeState(p) === 'connected', 10_000, `bridge connected (log: ${p.edge.log()})`);
}

async function subscribed(peer: Peer, filter: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  await peer.client.subscribeAsync(filter, { qos });
}

for (const [version, label] of [
  ['mqttv311', 'MQTT 3.1.1'],
  ['mqttv50', 'MQTT 5.0'],
] as const) {
  test(`${label} bridge to mosquitto: out with prefix remapping (site/sensor_data → central/site1/sensor_data), QoS 1`, async (t: TestContext) => {
    if (!needTools(t, ['mosquitto'])) return;
    const p = await pair([`bridge_protocol_version ${version}`, 'remote_clientid edge-out', 'topic sensor_data/# out 1 site/ central/site1/']);
    let remote: Peer | undefined;
    let local: Peer | undefined;
    try {
      await connected(p);
      remote = await connectPeer(url(p.central.port));
      await subscribed(remote, 'central/#');
      local = await connectPeer(url(p.edge.port));
      await local.client.publishAsync('site/sensor_data/t1', '21.5', { qos: 1 });
      await local.client.publishAsync('site/other/t1', 'not bridged', { qos: 1 });
      const got = await remote.inbox.next(5000);
      assert.equal(got.topic, 'central/site1/sensor_data/t1');
      assert.equal(got.payload, '21.5');
      assert.equal(got.packet.qos, 1);
      assert.ok(await remote.inbox.nothingWithin(300), 'only the bridged topic goes out');
    } finally {
      await endPeers(remote, local);
      await p.stop();
    }
  });

  test(`${label} bridge to mosquitto: in with the remote prefix removed (central/config_change → config_change)`, async (t: TestContext) => {
    if (!needTools(t, ['mosquitto'])) return;
    const p = await pair([`bridge_protocol_version ${version}`, 'remote_clientid edge-in', 'topic config_change/# in 1 "" central/']);
    let remote: Peer | undefined;
    let local: Peer | undefined;
    try {
      await connected(p);
      local = await connectPeer(url(p.edge.port));
      await subscribed(local, 'config_change/#');
      remote = await connectPeer(url(p.central.port));
      // the bridge subscribes right after CONNACK: wait until a first message comes through
      await eventually(() => local!.inbox.size > 0 || (void remote!.client.publish('central/config_change/probe', 'p', { qos: 1 }), false), 10_000, 'first incoming message');
      local.inbox.drain();
      await remote.client.publishAsync('central/config_change/s1', '{"rate":5}', { qos: 1 });
      const got = await local.inbox.next(5000);
      assert.equal(got.topic, 'config_change/s1');
      assert.equal(got.payload, '{"rate":5}');
    } finally {
      await endPeers(remote, local);
      await p.stop();
    }
  });

  test(`${label} bridge to mosquitto: both directions on one pattern, each message crosses once and never comes back`, async (t: TestContext) => {
    if (!needTools(t, ['mosquitto'])) return;
    const p = await pair([`bridge_protocol_version ${version}`, 'remote_clientid edge-both', 'topic chat/# both 1']);
    let remote: Peer | undefined;
    let local: Peer | undefined;
    try {
      await connected(p);
      local = await connectPeer(url(p.edge.port));
      remote = await connectPeer(url(p.central.port));
      await subscribed(local, 'chat/#');
      await subscribed(remote, 'chat/#');
      await eventually(() => remote!.inbox.size > 0 || (void local!.client.publish('chat/probe', 'p', { qos: 1 }), false), 10_000, 'bridge subscribed');
      await new Promise((resolve) => setTimeout(resolve, 300));
      local.inbox.drain();
      remote.inbox.drain();
      await local.client.publishAsync('chat/edge', 'from edge', { qos: 1 });
      await remote.client.publishAsync('chat/central', 'from central', { qos: 1 });
      const atRemote = await remote.inbox.take(2, 5000);
      const atLocal = await local.inbox.take(2, 5000);
      assert.deepEqual(atRemote.map((m) => m.topic).sort(), ['chat/central', 'chat/edge']);
      assert.deepEqual(atLocal.map((m) => m.topic).sort(), ['chat/central', 'chat/edge']);
      assert.ok(await remote.inbox.nothingWithin(500), 'no message looped back to the remote');
      assert.ok(await local.inbox.nothingWithin(100), 'no message looped back to the edge');
    } finally {
      await endPeers(remote, local);
      await p.stop();
    }
  });
}

test('MQTT 5.0 bridge to mosquitto: user properties and content type cross the bridge', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const p = await pair(['bridge_protocol_version mqttv50', 'remote_clientid edge-props', 'topic up/# out 1']);
  let remote: Peer | undefined;
  let local: Peer | undefined;
  try {
    await connected(p);
    remote = await connectPeer(url(p.central.port), { protocolVersion: 5 });
    await subscribed(remote, 'up/#');
    local = await connectPeer(url(p.edge.port), { protocolVersion: 5 });
    await local.client.publishAsync('up/x', 'v', { qos: 1, properties: { userProperties: { site: 'north' }, contentType: 'text/plain' } });
    const got = await remote.inbox.next(5000);
    assert.deepEqual({ ...got.packet.properties?.userProperties }, { site: 'north' });
    assert.equal(got.packet.properties?.contentType, 'text/plain');
  } finally {
    await endPeers(remote, local);
    await p.stop();
  }
});

test('notification topic: retained 1 on both brokers when connected, 0 locally when the remote goes, 1 again when it is back', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const p = await pair(['remote_clientid edge-note', 'topic up/# out 1']);
  const topic = '$SYS/broker/connection/edge-note/state';
  let remote: Peer | undefined;
  let local: Peer | undefined;
  let central = p.central;
  try {
    await connected(p);
    local = await connectPeer(url(p.edge.port));
    await subscribed(local, topic);
    const first = await local.inbox.next(5000);
    assert.deepEqual([first.payload, first.packet.retain], ['1', true], 'retained 1 locally');
    remote = await connectPeer(url(p.central.port));
    await subscribed(remote, topic);
    const atRemote = await remote.inbox.next(5000);
    assert.deepEqual([atRemote.payload, atRemote.packet.retain], ['1', true], 'retained 1 on the remote');
    await endPeers(remote);
    remote = undefined;

    await central.stop();
    assert.equal((await local.inbox.next(10_000)).payload, '0', '0 locally once the remote is gone');
    central = await startMosquittoConf(p.central.port, []);
    assert.equal((await local.inbox.next(15_000)).payload, '1', '1 again after reconnection');
  } finally {
    await endPeers(remote, local);
    await p.edge.stop();
    await central.stop();
  }
});

test('notification topic: the remote publishes the bridge will 0 when the edge broker dies', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const p = await pair(['remote_clientid edge-will', 'notification_topic edges/edge-will/up', 'topic up/# out 1']);
  let remote: Peer | undefined;
  try {
    await connected(p);
    remote = await connectPeer(url(p.central.port));
    await subscribed(remote, 'edges/#');
    assert.equal((await remote.inbox.next(5000)).payload, '1');
    await p.edge.stop();
    const will = await remote.inbox.next(10_000);
    assert.deepEqual([will.topic, will.payload], ['edges/edge-will/up', '0']);
  } finally {
    await endPeers(remote);
    await p.central.stop();
  }
});

test('remote stopped during QoS 1 traffic and started again: every message arrives, in order per topic', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const store = mkdtempSync(join(tmpdir(), 'culex-bridge-central-'));
  const centralLines = ['persistence true', `persistence_location ${store}/`];
  const p = await pair(['remote_clientid edge-queue', 'topic fleet/# out 1'], centralLines);
  let central = p.central;
  let remote: Peer | undefined;
  let local: Peer | undefined;
  const received = new Map<string, number[]>();
  try {
    await connected(p);
    // a persistent subscriber at the centre: its session survives the central broker's restart
    remote = await connectPeer(url(p.central.port), { clientId: 'central-app', clean: false, reconnectPeriod: 200 });
    remote.client.on('message', (topic, payload) => {
      const list = received.get(topic) ?? [];
      list.push(Number(payload.toString()));
      received.set(topic, list);
    });
    await subscribed(remote, 'fleet/#');
    local = await connectPeer(url(p.edge.port));
    const topics = ['fleet/a', 'fleet/b'];
    const total = 60;
    const count = (): number => [...received.values()].reduce((sum, list) => sum + new Set(list).size, 0);
    for (let i = 0; i < total / 3; i++) await local.client.publishAsync(topics[i % 2]!, String(i), { qos: 1 });
    await eventually(() => count() >= 5, 10_000, 'first messages at the centre');

    await central.stop(); // mid-traffic: some messages may be in flight
    await eventually(() => bridgeState(p) !== 'connected', 10_000, 'bridge noticed the loss');
    for (let i = total / 3; i < total; i++) await local.client.publishAsync(topics[i % 2]!, String(i), { qos: 1 });
    const queued = p.edge.assembled.culex.broker.sessions.get('local.edge-queue')!.queuedCount;
    assert.ok(queued > 0, 'messages wait in the bridge session while the remote is down');

    central = await startMosquittoConf(p.central.port, centralLines);
    await eventually(() => count() === total, 30_000, `all ${total} messages at the centre (have ${count()})`);
    for (const topic of topics) {
      const seen = received.get(topic)!;
      const firsts = seen.filter((value, index) => seen.indexOf(value) === index);
      const expected = Array.from({ length: total }, (_, i) => i).filter((i) => topics[i % 2] === topic);
      assert.deepEqual(firsts, expected, `${topic}: every message, in order`);
    }
  } finally {
    await endPeers(remote, local);
    await p.edge.stop();
    await central.stop();
    rmSync(store, { recursive: true, force: true });
  }
});
