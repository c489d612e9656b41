// Bridges under --cluster: Culex nodes on a real redis-server, bridged to Debian's Mosquitto. A bridge
// configured on one node carries messages published on another node out (the bridge's local
// subscriptions are in the cluster's route table) and delivers what comes in to subscribers on the
// other node.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { CulexProcess } from '../helpers/culex-process.js';
import { startNode } from '../helpers/cluster-nodes.js';
import { connectPeer } from '../helpers/mqttjs.js';
import { needTools } from '../helpers/tools.js';
import { eventually } from '../helpers/bridge-peers.js';
import { lines, untilThrough, url, world } from '../helpers/bridge-cluster.js';

test('a bridge on node A carries out what clients of node B publish, and delivers what comes in to subscribers on node B', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto', 'redis-server'], 'mosquitto redis-server')) return;
  const w = await world();
  try {
    w.nodes.push(await startNode(w.redis.url, 'bridge-a', ['-c', w.conf]));
    w.nodes.push(await startNode(w.redis.url, 'plain-b'));
    const [a, b] = w.nodes as [CulexProcess, CulexProcess];
    await a.waitForLog(/Bridge central connected/, 30_000);

    const centralSink = await connectPeer(url(w.remote.port), { clientId: 'central-sink' });
    const centralPublisher = await connectPeer(url(w.remote.port), { clientId: 'central-publisher' });
    const publisherOnB = await connectPeer(url(b.port), { clientId: 'publisher-on-b' });
    const subscriberOnB = await connectPeer(url(b.port), { clientId: 'subscriber-on-b' });
    w.peers.push(centralSink, centralPublisher, publisherOnB, subscriberOnB);
    await centralSink.client.subscribeAsync('up/#', { qos: 1 });
    await subscriberOnB.client.subscribeAsync('down/#', { qos: 1 });

    await untilThrough(() => publisherOnB.client.publishAsync('up/probe', 'p', { qos: 1 }), centralSink.inbox, 'B to the remote');
    for (let i = 0; i < 5; i++) await publisherOnB.client.publishAsync('up/reading', `r${i}`, { qos: 1 });
    await eventually(() => centralSink.inbox.size >= 5, 20_000, 'the readings at the remote');
    assert.deepEqual(lines(centralSink.inbox), [0, 1, 2, 3, 4].map((i) => `up/reading r${i}`));

    await untilThrough(() => centralPublisher.client.publishAsync('down/probe', 'p', { qos: 1 }), subscriberOnB.inbox, 'the remote to B');
    for (let i = 0; i < 5; i++) await centralPublisher.client.publishAsync('down/config', `c${i}`, { qos: 1 });
    await eventually(() => subscriberOnB.inbox.size >= 5, 20_000, 'the commands on B');
    assert.deepEqual(lines(subscriberOnB.inbox), [0, 1, 2, 3, 4].map((i) => `down/config c${i}`));
    assert.doesNotMatch(b.log(), /Bridge central/, 'node B runs no bridge');
  } finally {
    await w.close();
  }
});
