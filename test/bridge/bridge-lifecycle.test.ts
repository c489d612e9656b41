// Bridge options that change behaviour, each tried on loopback against a real remote: start types
// (once, lazy with threshold and idle_timeout), several addresses with the primary taken back,
// notifications_local_only, bridge_outgoing_retain, bridge_max_packet_size, local_cleansession,
// bridge_attempt_unsubscribe, and an MQTT 3.1 bridge to Mosquitto.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { eventually, startCulexConf, startMosquittoConf, type CulexFromConf } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;

async function culexAt(port: number): Promise<CulexFromConf> {
  return startCulexConf(port, `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
}

async function edge(addresses: string, lines: readonly string[]): Promise<CulexFromConf> {
  const port = await findFreePort();
  return startCulexConf(port, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'connection edge', `address ${addresses}`, 'restart_timeout 1', ...lines].join('\n'));
}

const bridgeOf = (e: CulexFromConf) => e.assembled.bridges.list[0]!;

test('start_type once: a lost connection is not restarted, even when the remote comes back', async () => {
  const port = await findFreePort();
  let central = await culexAt(port);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-once', 'start_type once', 'topic up/# out 1']);
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected');
    await central.stop();
    await eventually(() => bridgeOf(e).state === 'stopped', 10_000, 'stopped after the loss');
    central = await culexAt(port);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // several restart_timeout periods
    assert.equal(bridgeOf(e).state, 'stopped');
    assert.equal(bridgeOf(e).counters.connects, 1);
  } finally {
    await e.stop();
    await central.stop();
  }
});

test('start_type lazy: idle from the start, connects once threshold messages are queued, delivers them, and is idle again after idle_timeout', async () => {
  const port = await findFreePort();
  const central = await culexAt(port);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-lazy', 'start_type lazy', 'idle_timeout 1', 'threshold 3', 'topic up/# out 1']);
  let atCentral: Peer | undefined;
  let atEdge: Peer | undefined;
  try {
    assert.equal(bridgeOf(e).state, 'idle', 'a lazy bridge waits for its threshold');
    atCentral = await connectPeer(url(port));
    await atCentral.client.subscribeAsync('up/#', { qos: 1 });
    atEdge = await connectPeer(url(e.port));
    await atEdge.client.publishAsync('up/1', 'a', { qos: 1 });
    await atEdge.client.publishAsync('up/2', 'b', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(bridgeOf(e).state, 'idle', 'two messages are below the threshold');
    assert.equal(bridgeOf(e).counters.connects, 0);
    await atEdge.client.publishAsync('up/3', 'c', { qos: 1 });
    const got = await atCentral.inbox.take(3, 10_000);
    assert.deepEqual(got.map((m) => m.payload), ['a', 'b', 'c']);
    assert.equal(bridgeOf(e).counters.connects, 1);
    await eventually(() => bridgeOf(e).state === 'idle', 10_000, 'idle after idle_timeout');
    assert.equal(bridgeOf(e).counters.failures, 0, 'going idle is no failure');
  } finally {
    await endPeers(atCentral, atEdge);
    await e.stop();
    await central.stop();
  }
});

test('several addresses: a dead first address is skipped; without round_robin the primary is taken back when it answers', async () => {
  const primaryPort = await findFreePort();
  const secondaryPort = await findFreePort();
  const secondary = await culexAt(secondaryPort);
  const e = await edge(`127.0.0.1:${primaryPort} 127.0.0.1:${secondaryPort}`, ['remote_clientid edge-multi', 'topic up/# out 1']);
  let primary: CulexFromConf | undefined;
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected to the secondary');
    assert.equal(bridgeOf(e).status.address, `127.0.0.1:${secondaryPort}`);
    primary = await culexAt(primaryPort);
    await eventually(() => bridgeOf(e).state === 'connected' && bridgeOf(e).status.address === `127.0.0.1:${primaryPort}`, 20_000, 'back on the primary');
    assert.ok(primary.assembled.culex.broker.channels.has('edge-multi'));
  } finally {
    await e.stop();
    await primary?.stop();
    await secondary.stop();
  }
});

test('notifications_local_only: the state is published locally only, and the remote gets no will', async () => {
  const port = await findFreePort();
  const central = await culexAt(port);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-lo', 'notifications_local_only true', 'topic up/# out 1']);
  let atCentral: Peer | undefined;
  let atEdge: Peer | undefined;
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected');
    atEdge = await connectPeer(url(e.port));
    await atEdge.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 });
    assert.equal((await atEdge.inbox.next(5000)).payload, '1');
    atCentral = await connectPeer(url(port));
    await atCentral.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 });
    assert.equal(central.assembled.culex.broker.channels.get('edge-lo')?.will, undefined, 'no will on the remote');
    assert.ok(await atCentral.inbox.nothingWithin(500), 'nothing on the remote');
  } finally {
    await endPeers(atCentral, atEdge);
    await e.stop();
    await central.stop();
  }
});

test('bridge_outgoing_retain false: retained local messages reach the remote without the retain flag', async () => {
  const port = await findFreePort();
  const central = await culexAt(port);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-nr', 'bridge_outgoing_retain false', 'topic up/# out 1']);
  let atCentral: Peer | undefined;
  let atEdge: Peer | undefined;
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected');
    atCentral = await connectPeer(url(port));
    await atCentral.client.subscribeAsync('up/#', { qos: 1 });
    atEdge = await connectPeer(url(e.port));
    await atEdge.client.publishAsync('up/kept', 'x', { qos: 1, retain: true });
    assert.equal((await atCentral.inbox.next(5000)).payload, 'x');
    assert.equal(central.assembled.culex.broker.retained.matching('up/#', Date.now()).length, 0, 'nothing retained at the remote');
  } finally {
    await endPeers(atCentral, atEdge);
    await e.stop();
    await central.stop();
  }
});

test('bridge_max_packet_size: a larger message is not sent to the remote and is counted as dropped', async () => {
  const port = await findFreePort();
  const central = await culexAt(port);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-max', 'bridge_max_packet_size 100', 'topic up/# out 1']);
  let atCentral: Peer | undefined;
  let atEdge: Peer | undefined;
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected');
    atCentral = await connectPeer(url(port));
    await atCentral.client.subscribeAsync('up/#', { qos: 1 });
    atEdge = await connectPeer(url(e.port));
    await atEdge.client.publishAsync('up/big', 'x'.repeat(200), { qos: 1 });
    await atEdge.client.publishAsync('up/small', 'fits', { qos: 1 });
    const got = await atCentral.inbox.next(5000);
    assert.equal(got.topic, 'up/small');
    assert.equal(bridgeOf(e).counters.dropped, 1);
    await eventually(() => e.assembled.culex.broker.sessions.get('local.edge-max')!.inflight.size === 0, 5000, 'the dropped message left the bridge session');
  } finally {
    await endPeers(atCentral, atEdge);
    await e.stop();
    await central.stop();
  }
});

test('local_cleansession true: nothing is queued for the remote while it is down', async () => {
  const port = await findFreePort();
  let central = await culexAt(port);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-lc', 'local_cleansession true', 'topic up/# out 1']);
  let atEdge: Peer | undefined;
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected');
    await central.stop();
    await eventually(() => bridgeOf(e).state !== 'connected', 10_000, 'lost');
    atEdge = await connectPeer(url(e.port));
    await atEdge.client.publishAsync('up/lost', 'x', { qos: 1 });
    assert.equal(e.assembled.culex.broker.sessions.has('local.edge-lc'), false, 'no local session while the remote is down');
    central = await culexAt(port);
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'reconnected');
  } finally {
    await endPeers(atEdge);
    await e.stop();
    await central.stop();
  }
});

for (const attempt of [true, false]) {
  test(`bridge_attempt_unsubscribe ${attempt}: a topic turned from in to out is ${attempt ? 'unsubscribed on' : 'left subscribed at'} the remote`, async () => {
    const port = await findFreePort();
    const central = await culexAt(port);
    const sessionSubscriptions = (): number => central.assembled.culex.broker.sessions.get('edge-un')?.subscriptions.size ?? -1;
    let e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-un', 'topic cmd/# in 1']);
    try {
      await eventually(() => sessionSubscriptions() === 1, 10_000, 'the in rule subscribed at the remote');
      await e.stop();
      e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-un', `bridge_attempt_unsubscribe ${attempt}`, 'topic cmd/# out 1']);
      await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected again');
      if (attempt) await eventually(() => sessionSubscriptions() === 0, 5000, 'unsubscribed');
      else {
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(sessionSubscriptions(), 1);
      }
    } finally {
      await e.stop();
      await central.stop();
    }
  });
}

test('MQTT 3.1 bridge (mqttv31) to mosquitto carries messages both ways', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const port = await findFreePort();
  const central = await startMosquittoConf(port, []);
  const e = await edge(`127.0.0.1:${port}`, ['remote_clientid edge-v31', 'bridge_protocol_version mqttv31', 'topic v31/# both 1']);
  let atCentral: Peer | undefined;
  let atEdge: Peer | undefined;
  try {
    await eventually(() => bridgeOf(e).state === 'connected', 10_000, 'connected');
    assert.match(central.log(), /New bridge connected from .* as edge-v31 \(p1/);
    atCentral = await connectPeer(url(port));
    atEdge = await connectPeer(url(e.port));
    await atCentral.client.subscribeAsync('v31/#', { qos: 1 });
    await atEdge.client.subscribeAsync('v31/#', { qos: 1 });
    await eventually(() => atCentral!.inbox.size > 0 || (void atEdge!.client.publish('v31/probe', 'p', { qos: 1 }), false), 10_000, 'flowing');
    await atCentral.client.publishAsync('v31/down', 'd', { qos: 1 });
    await eventually(() => atEdge!.inbox.drain().some((m) => m.topic === 'v31/down'), 5000, 'down');
  } finally {
    await endPeers(atCentral, atEdge);
    await e.stop();
    await central.stop();
  }
});
