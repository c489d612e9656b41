// Every cluster node with the same `connection` section (one configuration file for all): one node
// at a time runs the bridge (a lease in Redis), so the remote, Debian's Mosquitto, sees one client:
// no takeover fights, each message once, in both directions; when that node stops (SIGTERM) or dies
// (SIGKILL), another node takes the bridge over.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from '../helpers/cluster-nodes.js';
import { connectPeer } from '../helpers/mqttjs.js';
import { needTools } from '../helpers/tools.js';
import { eventually } from '../helpers/bridge-peers.js';
import { lines, untilThrough, url, world } from '../helpers/bridge-cluster.js';

test('with the same connection section on three nodes, one node runs the bridge: one connection at the remote, each message once; another node takes over when it stops (SIGTERM) or dies (SIGKILL)', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto', 'redis-server'], 'mosquitto redis-server')) return;
  const w = await world();
  try {
    for (const id of ['twin-1', 'twin-2', 'twin-3']) w.nodes.push(await startNode(w.redis.url, id, ['-c', w.conf]));
    const connected = /Bridge central connected/;
    /** Index of the one node whose log shows the bridge connected since `marks` (log lengths) were taken. */
    const runner = async (marks: number[], candidates: number[]): Promise<number> => {
      const since = (i: number): string => w.nodes[i]!.log().slice(marks[i]);
      await eventually(() => candidates.some((i) => connected.test(since(i))), 30_000, 'a bridge connected');
      const running = candidates.filter((i) => connected.test(since(i)));
      assert.equal(running.length, 1, `one node runs the bridge, not ${running.join(' and ')}`);
      return running[0]!;
    };
    const holder = await runner([0, 0, 0], [0, 1, 2]);

    const centralSink = await connectPeer(url(w.remote.port), { clientId: 'central-sink' });
    const centralPublisher = await connectPeer(url(w.remote.port), { clientId: 'central-publisher' });
    const publishers = await Promise.all(w.nodes.map((node, i) => connectPeer(url(node.port), { clientId: `publisher-${i}` })));
    const subscribers = await Promise.all(w.nodes.map((node, i) => connectPeer(url(node.port), { clientId: `subscriber-${i}` })));
    w.peers.push(centralSink, centralPublisher, ...publishers, ...subscribers);
    await centralSink.client.subscribeAsync('up/#', { qos: 1 });
    for (const subscriber of subscribers) await subscriber.client.subscribeAsync('down/#', { qos: 1 });

    for (const [i, publisher] of publishers.entries()) await untilThrough(() => publisher.client.publishAsync('up/probe', 'p', { qos: 1 }), centralSink.inbox, `node ${i} to the remote`);
    for (const subscriber of subscribers) await untilThrough(() => centralPublisher.client.publishAsync('down/probe', 'p', { qos: 1 }), subscriber.inbox, 'the remote to a node');
    for (const subscriber of subscribers) subscriber.inbox.drain();

    // each message once, whichever node it was published on; an end marker closes the stream
    for (let i = 0; i < 6; i++) await publishers[i % 3]!.client.publishAsync('up/reading', `r${i}`, { qos: 1 });
    await publishers[0]!.client.publishAsync('up/reading', 'end', { qos: 1 });
    await eventually(() => centralSink.inbox.size >= 7, 20_000, 'the readings at the remote');
    await centralSink.inbox.nothingWithin(500);
    assert.deepEqual(lines(centralSink.inbox).sort(), ['up/reading end', ...[0, 1, 2, 3, 4, 5].map((i) => `up/reading r${i}`)]);
    for (let i = 0; i < 3; i++) await centralPublisher.client.publishAsync('down/config', `c${i}`, { qos: 1 });
    for (const subscriber of subscribers) await eventually(() => subscriber.inbox.size >= 3, 20_000, 'the commands on each node');
    await subscribers[0]!.inbox.nothingWithin(500);
    for (const subscriber of subscribers) assert.deepEqual(lines(subscriber.inbox), ['down/config c0', 'down/config c1', 'down/config c2']);
    assert.doesNotMatch(w.remote.log(), /Client cluster-edge already connected/, 'no takeover fight at the remote');

    /** After a takeover: a reading published on node i reaches the remote (probes first, until routes settle). */
    const carries = async (i: number, payload: string): Promise<void> => {
      await untilThrough(() => publishers[i]!.client.publishAsync('up/probe', 'p', { qos: 1 }), centralSink.inbox, `node ${i} to the remote after a takeover`);
      await publishers[i]!.client.publishAsync('up/reading', payload, { qos: 1 });
      const seen: string[] = [];
      await eventually(() => seen.push(...lines(centralSink.inbox)) >= 0 && seen.includes(`up/reading ${payload}`), 20_000, `${payload} at the remote`);
      assert.deepEqual(seen.filter((line) => !line.startsWith('up/probe')), [`up/reading ${payload}`]);
    };
    // the holder stops gracefully and releases the lease
    let marks = w.nodes.map((node) => node.log().length);
    await w.nodes[holder]!.stop('SIGTERM');
    const rest = [0, 1, 2].filter((i) => i !== holder);
    const second = await runner(marks, rest);
    await carries(rest.find((i) => i !== second)!, 'after-sigterm');
    // the new holder dies: its lease expires and the last node runs the bridge
    marks = w.nodes.map((node) => node.log().length);
    await w.nodes[second]!.stop('SIGKILL');
    const last = rest.find((i) => i !== second)!;
    assert.equal(await runner(marks, [last]), last);
    await carries(last, 'after-sigkill');
  } finally {
    await w.close();
  }
});
