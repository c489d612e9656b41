// A dead node's clients' delayed wills survive the death of the node that was holding them: the
// node that cleans up after a dead node keeps the wills it scheduled in Redis (held-wills) until it
// sends them, so when it dies too (SIGKILL) or stops (SIGTERM) before their will delay is over,
// the node that cleans up after it sends them, once, at their due time. A client that comes back in
// time through the dead node restarted with its id has no will sent (the registry's run tells it).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { redisCli, startRedis, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';
import { startNode } from '../helpers/cluster-nodes.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;

describe('delayed wills of a dead node\'s clients', { skip }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.destroy();
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`the node holding them ${signal === 'SIGKILL' ? 'dies' : 'stops'} before the will delay is over: the node cleaning up after it sends each will once, at its time [MQTT-3.1.3-9] [MQTT-3.1.2-8]`, async () => {
      const base = `held-${signal}-${process.pid}`;
      const a = await startNode(redis.url, `${base}-a`);
      const b = await startNode(redis.url, `${base}-b`);
      const doomed = await startNode(redis.url, `${base}-d`);
      const nodes: CulexProcess[] = [a, b, doomed];
      const watchers: Peer[] = [];
      try {
        for (const node of [a, b]) {
          const watcher = await connectPeer(`mqtt://127.0.0.1:${node.port}`, { protocolVersion: 5, clientId: `${base}-w-${node.port}` });
          await watcher.client.subscribeAsync(`${base}/will`, { qos: 1 });
          watchers.push(watcher);
        }
        const client = await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, {
          protocolVersion: 5,
          clientId: `${base}-c`,
          properties: { sessionExpiryInterval: 60 },
          will: { topic: `${base}/will`, payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 6 } },
        });
        // the will's route must be on the doomed node before it dies
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const killedAt = Date.now();
        await doomed.stop('SIGKILL');
        client.client.end(true);
        // whichever node cleans up after it holds the will; that one goes away in turn
        const holder = await Promise.any([a, b].map((node) => node.waitForLog(new RegExp(`node ${base}-d is gone; node \\S+ removed its routes, adopted \\d+ persistent sessions and handles the wills of its clients \\(1\\)`), 15_000).then(() => node)));
        const watcher = watchers[holder === a ? 1 : 0]!;
        await holder.stop(signal);
        const [will] = await watcher.inbox.take(1, 20_000);
        assert.equal(will!.payload, 'gone');
        assert.ok(Date.now() - killedAt >= 6000, `sent after the will delay (${Date.now() - killedAt} ms)`);
        assert.equal(await watcher.inbox.nothingWithin(1500), true, 'sent once');
      } finally {
        await endPeers(...watchers);
        await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
      }
    });
  }

  test('a client of a dead node reconnects before its will delay is over through that node restarted with the same id: the node holding its will does not send it [MQTT-3.1.3-9]', async () => {
    const base = `held-restart-${process.pid}`;
    const id = `${base}-d`;
    const clientId = `${base}-c`;
    const cleaner = await startNode(redis.url, `${base}-a`);
    const doomed = await startNode(redis.url, id);
    const nodes: CulexProcess[] = [cleaner, doomed];
    const peers: Peer[] = [];
    const cli = (...args: string[]): Promise<string> => redisCli(redis.port, ...args);
    try {
      const watcher = await connectPeer(`mqtt://127.0.0.1:${cleaner.port}`, { protocolVersion: 5, clientId: `${base}-w` });
      peers.push(watcher);
      await watcher.client.subscribeAsync(`${base}/will`, { qos: 1 });
      const options = {
        protocolVersion: 5 as const,
        clientId,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
        will: { topic: `${base}/will`, payload: Buffer.from('gone'), qos: 1 as const, retain: false, properties: { willDelayInterval: 6 } },
      };
      const client = await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, options);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the will is in Redis
      const firstRun = await cli('hget', '{culex:clients}:runs', clientId);
      assert.notEqual(firstRun, '', 'the registry records the run that claimed the client id');
      await doomed.stop('SIGKILL');
      client.client.end(true);
      await cleaner.waitForLog(new RegExp(`node ${id} is gone; node ${base}-a removed its routes, adopted 0 persistent sessions and handles the wills of its clients \\(1\\)`), 15_000);
      const due = Date.now() + 6000;

      // the dead node back with its id, and the client through it, before the will is due
      const again = await startNode(redis.url, id);
      nodes.push(again);
      peers.push(await connectPeer(`mqtt://127.0.0.1:${again.port}`, options));
      assert.ok(Date.now() < due - 1000, 'reconnected well before the will delay is over');
      assert.equal(await cli('hget', 'culex:clients', clientId), id, 'the registry shows the same node id');
      assert.notEqual(await cli('hget', '{culex:clients}:runs', clientId), firstRun, 'but another run');

      assert.equal(await watcher.inbox.nothingWithin(due + 2000 - Date.now()), true, 'no will after the delay');
      assert.equal(await cli('hlen', `culex:{node:${base}-a}:held-wills`), '0', 'the held will is gone from Redis');
    } finally {
      await endPeers(...peers);
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    }
  });
});
