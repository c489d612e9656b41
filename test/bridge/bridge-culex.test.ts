// Culex bridged to another Culex on loopback: in, out and both directions with remapping over
// MQTT 3.1.1 (try_private: the remote Culex sees a bridge and keeps its messages from coming back)
// and MQTT 5.0 (No Local), and TLS bridges with openssl-made certificates, to Culex and to Mosquitto.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { makeCertificates } from '../helpers/certificates.js';
import { eventually, startCulexConf, startMosquittoConf, type CulexFromConf, type RunningBroker } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;

async function edgeTo(centralPort: number, bridgeLines: readonly string[]): Promise<CulexFromConf> {
  const port = await findFreePort();
  return startCulexConf(port, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'connection edge', `address 127.0.0.1:${centralPort}`, 'restart_timeout 1', ...bridgeLines].join('\n'));
}

async function plainCulex(): Promise<CulexFromConf> {
  const port = await findFreePort();
  return startCulexConf(port, `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
}

const connected = (edge: CulexFromConf): Promise<void> =>
  eventually(() => edge.assembled.bridges.list[0]!.state === 'connected', 10_000, `bridge connected (log: ${edge.log()})`);

/** Publishes probes until one arrives: the bridge's subscriptions are in place on both sides. */
async function flowing(from: Peer, to: Peer, topic: string): Promise<void> {
  await eventually(() => to.inbox.size > 0 || (void from.client.publish(topic, 'probe', { qos: 1 }), false), 10_000, `messages flowing to ${topic}`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  to.inbox.drain();
  from.inbox.drain();
}

for (const [version, label] of [
  ['mqttv311', 'MQTT 3.1.1 (try_private)'],
  ['mqttv50', 'MQTT 5.0 (No Local)'],
] as const) {
  test(`Culex to Culex, ${label}: out, in and both rules with remapping; nothing loops`, async (t: TestContext) => {
    const central = await plainCulex();
    const edge = await edgeTo(central.port, [
      `bridge_protocol_version ${version}`,
      'remote_clientid edge-c2c',
      'topic sensor_data/# out 1 "" site7/',
      'topic config_change/# in 1 "" site7/',
      'topic chat/# both 1 local/ remote/',
    ]);
    let atEdge: Peer | undefined;
    let atCentral: Peer | undefined;
    try {
      await connected(edge);
      atEdge = await connectPeer(url(edge.port));
      atCentral = await connectPeer(url(central.port));
      await atEdge.client.subscribeAsync(['config_change/#', 'local/chat/#'], { qos: 1 });
      await atCentral.client.subscribeAsync(['site7/sensor_data/#', 'remote/chat/#'], { qos: 1 });
      await flowing(atCentral, atEdge, 'site7/config_change/probe');
      await flowing(atEdge, atCentral, 'sensor_data/probe');

      await atEdge.client.publishAsync('sensor_data/t1', 'up', { qos: 1 });
      const up = await atCentral.inbox.next(5000);
      assert.deepEqual([up.topic, up.payload], ['site7/sensor_data/t1', 'up']);

      await atCentral.client.publishAsync('site7/config_change/all', 'down', { qos: 1 });
      const down = await atEdge.inbox.next(5000);
      assert.deepEqual([down.topic, down.payload], ['config_change/all', 'down']);

      await atEdge.client.publishAsync('local/chat/a', 'from edge', { qos: 1 });
      await atCentral.client.publishAsync('remote/chat/b', 'from centre', { qos: 1 });
      const edgeSees = await atEdge.inbox.take(2, 5000);
      const centralSees = await atCentral.inbox.take(2, 5000);
      assert.deepEqual(edgeSees.map((m) => m.topic).sort(), ['local/chat/a', 'local/chat/b']);
      assert.deepEqual(centralSees.map((m) => m.topic).sort(), ['remote/chat/a', 'remote/chat/b']);
      assert.ok(await atEdge.inbox.nothingWithin(500), 'no copy came back to the edge');
      assert.ok(await atCentral.inbox.nothingWithin(100), 'no copy came back to the centre');
      const counters = edge.assembled.bridges.status()[0]!.counters;
      assert.ok(counters.messagesSent >= 2 && counters.messagesReceived >= 2, `counters count the traffic: ${JSON.stringify(counters)}`);
    } finally {
      await endPeers(atEdge, atCentral);
      await edge.stop();
      await central.stop();
    }
  });
}

test('a 3.1.1 client with the bridge bit gets No Local and Retain As Published on its subscriptions (Mosquitto try_private)', async () => {
  const central = await plainCulex();
  // the edge's bridge subscribes chat/# on the central Culex as a bridge; it publishes there too
  const edge = await edgeTo(central.port, ['remote_clientid edge-bit', 'topic chat/# both 1']);
  let atCentral: Peer | undefined;
  try {
    await connected(edge);
    const channel = central.assembled.culex.broker.channels.get('edge-bit');
    assert.ok(channel?.isBridge, 'the central broker saw the bridge bit');
    await eventually(() => central.assembled.culex.broker.sessions.get('edge-bit')?.subscriptions.size === 1, 5000, 'bridge subscription');
    const subscription = central.assembled.culex.broker.sessions.get('edge-bit')!.subscriptions.get('chat/#')!;
    assert.deepEqual([subscription.noLocal, subscription.retainAsPublished], [true, true]);
    atCentral = await connectPeer(url(central.port));
    await atCentral.client.publishAsync('chat/kept', 'r', { qos: 1, retain: true });
    const edgePeer = await connectPeer(url(edge.port));
    try {
      await edgePeer.client.subscribeAsync('chat/#', { qos: 1 });
      const retained = await edgePeer.inbox.next(5000);
      assert.deepEqual([retained.topic, retained.packet.retain], ['chat/kept', true], 'retained flag kept across the bridge');
    } finally {
      await endPeers(edgePeer);
    }
  } finally {
    await endPeers(atCentral);
    await edge.stop();
    await central.stop();
  }
});

async function tlsCentral(kind: 'culex' | 'mosquitto', certs: ReturnType<typeof makeCertificates>): Promise<RunningBroker> {
  const port = await findFreePort();
  const lines = [`cafile ${certs.caCert}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, 'require_certificate true'];
  if (kind === 'mosquitto') return startMosquittoConf(port, lines);
  return startCulexConf(port, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', ...lines].join('\n'));
}

for (const kind of ['culex', 'mosquitto'] as const) {
  test(`TLS bridge to ${kind}: the remote's certificate checked against bridge_cafile, a client certificate given, messages cross`, async (t: TestContext) => {
    if (!needTools(t, ['openssl', ...(kind === 'mosquitto' ? ['mosquitto'] : [])], 'openssl mosquitto')) return;
    const certs = makeCertificates();
    const central = await tlsCentral(kind, certs);
    const edge = await edgeTo(central.port, [
      'remote_clientid edge-tls',
      `bridge_cafile ${certs.caCert}`,
      `bridge_certfile ${certs.clientCert}`,
      `bridge_keyfile ${certs.clientKey}`,
      'topic up/# out 1',
    ]);
    let atEdge: Peer | undefined;
    let atCentral: Peer | undefined;
    try {
      await connected(edge);
      atCentral = await connectPeer(`mqtts://127.0.0.1:${central.port}`, { ca: readFileSync(certs.caCert), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
      await atCentral.client.subscribeAsync('up/#', { qos: 1 });
      atEdge = await connectPeer(url(edge.port));
      await atEdge.client.publishAsync('up/secure', 'over tls', { qos: 1 });
      const got = await atCentral.inbox.next(5000);
      assert.deepEqual([got.topic, got.payload], ['up/secure', 'over tls']);
    } finally {
      await endPeers(atEdge, atCentral);
      await edge.stop();
      await central.stop();
    }
  });
}

test('TLS bridge: a remote whose certificate another CA signed is not trusted, and the bridge keeps retrying', async (t: TestContext) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const certs = makeCertificates();
  const stranger = makeCertificates();
  const central = await tlsCentral('culex', certs);
  const edge = await edgeTo(central.port, ['remote_clientid edge-untrusted', `bridge_cafile ${stranger.caCert}`, 'topic up/# out 1']);
  try {
    await eventually(() => edge.assembled.bridges.list[0]!.counters.failures >= 2, 10_000, 'two failed attempts');
    assert.equal(edge.assembled.bridges.list[0]!.counters.connects, 0);
    assert.match(edge.log(), /could not connect.*(certificate|self.signed|unable to verify)/i);
  } finally {
    await edge.stop();
    await central.stop();
  }
});

test('TLS-PSK bridge (bridge_identity, bridge_psk) to mosquitto with psk_file: the identity names the bridge, messages cross', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-bridge-psk-'));
  const pskFile = join(dir, 'psk');
  writeFileSync(pskFile, 'edge-psk:00112233445566778899aabbccddeeff\n');
  const port = await findFreePort();
  const central = await startMosquittoConf(port, ['psk_hint fleet', `psk_file ${pskFile}`, 'use_identity_as_username true']);
  const edge = await edgeTo(port, ['remote_clientid edge-psk', 'bridge_identity edge-psk', 'bridge_psk 00112233445566778899aabbccddeeff', 'topic up/# out 1']);
  let atEdge: Peer | undefined;
  try {
    await connected(edge);
    assert.match(central.log(), /New bridge connected from .* as edge-psk .*u'edge-psk'/);
    atEdge = await connectPeer(url(edge.port));
    await atEdge.client.publishAsync('up/psk', 'sealed', { qos: 1 });
    await eventually(() => edge.assembled.bridges.status()[0]!.counters.messagesSent === 1, 5000, 'sent over TLS-PSK');
  } finally {
    await endPeers(atEdge);
    await edge.stop();
    await central.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Mosquitto site bridged both ways to a Culex centre over 3.1.1 (try_private): messages cross once, no loop', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const central = await plainCulex();
  const sitePort = await findFreePort();
  const site = await startMosquittoConf(sitePort, ['connection up', `address 127.0.0.1:${central.port}`, 'remote_clientid mosq-site', 'restart_timeout 1', 'topic chat/# both 1']);
  let atSite: Peer | undefined;
  let atCentral: Peer | undefined;
  try {
    await eventually(() => central.assembled.culex.broker.channels.get('mosq-site')?.isBridge === true, 15_000, 'Mosquitto bridge connected as a bridge');
    atSite = await connectPeer(url(sitePort));
    atCentral = await connectPeer(url(central.port));
    await atSite.client.subscribeAsync('chat/#', { qos: 1 });
    await atCentral.client.subscribeAsync('chat/#', { qos: 1 });
    await flowing(atSite, atCentral, 'chat/probe');
    await atSite.client.publishAsync('chat/site', 'from the site', { qos: 1 });
    await atCentral.client.publishAsync('chat/centre', 'from the centre', { qos: 1 });
    assert.deepEqual((await atSite.inbox.take(2, 5000)).map((m) => m.topic).sort(), ['chat/centre', 'chat/site']);
    assert.deepEqual((await atCentral.inbox.take(2, 5000)).map((m) => m.topic).sort(), ['chat/centre', 'chat/site']);
    assert.ok(await atSite.inbox.nothingWithin(700), 'nothing came back to the site');
    assert.ok(await atCentral.inbox.nothingWithin(100), 'nothing came back to the centre');
  } finally {
    await endPeers(atSite, atCentral);
    await site.stop();
    await central.stop();
  }
});
