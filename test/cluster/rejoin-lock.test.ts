// A node restarting with its id while another node is still cleaning up after its previous run:
// the clean-up (under the dead node's reaper lock) ends by deleting that node's routes and status
// entry, so the restarted node must not write them before it is over. It waits for the lock, and a
// node that cleaned up releases the lock as soon as it is done. The lock lives three heartbeats and
// the cleaner renews it while it works: a clean-up made slow (every round trip of the cleaner to
// Redis delayed) outlives the lock's lifetime and still ends before the restarted node joins.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { startNode, untilRouted } from '../helpers/cluster-nodes.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { redisCli, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTcpCut, type TcpCut } from '../helpers/tcp-cut.js';
import { requireTool } from '../helpers/tools.js';
import { until as pollUntil } from '../helpers/until.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;

describe('a node restarting while another cleans up after its previous run', { skip }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.destroy();
  });

  const cli = (...args: string[]): Promise<string> => redisCli(redis.port, ...args);

  /** Polls until check holds (bounded: 10 s). */
  const until = (check: () => Promise<boolean>, what: string): Promise<void> => pollUntil(check, what, 10_000, 100);

  test('the restarted node waits while its reaper lock is held, then writes its routes and status after the clean-up, which no longer deletes them; messages reach its subscribers', async () => {
    const base = `rejoin-${process.pid}`;
    const id = `${base}-x`;
    const lock = `culex:{node:${id}}:reaper`;
    const survivor = await startNode(redis.url, `${base}-s`);
    const first = await startNode(redis.url, id);
    const nodes: CulexProcess[] = [survivor, first];
    const peers: Peer[] = [];
    try {
      // a clean-up after the node's coming death is under way, slow: its lock is held by hand
      assert.equal(await cli('set', lock, `${base}-cleaner`, 'px', '60000', 'nx'), 'OK');
      await first.stop('SIGKILL');
      await until(async () => (await cli('exists', `culex:{node:${id}}:alive`)) === '0', 'the killed node\'s alive key expired');

      const again = await startNode(redis.url, id, [], new RegExp(`node ${base}-cleaner is cleaning up after the previous run of node ${id}; waiting for it to finish before joining`));
      nodes.push(again);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // three heartbeats
      assert.equal(await cli('exists', `culex:{node:${id}}:alive`), '0', 'not alive while the clean-up runs');

      // the clean-up ends as the reaper's does (liveness.ts): the node's keys and status go, "gone" is announced, the lock is released
      await cli('del', `culex:{node:${id}}:routes`, `culex:{node:${id}}:wills`, `culex:{node:${id}}:sessions`, `culex:{node:${id}}:held-wills`);
      await cli('hdel', 'culex:nodes', id);
      await cli('publish', 'culex:routes', JSON.stringify({ node: id, gone: true }));
      await cli('del', lock);
      await again.waitForLog(/culex version \S+ running/, 15_000);
      assert.match(again.log(), new RegExp(`the clean-up after the previous run of node ${id} is over; joining`));

      const sub = await connectPeer(`mqtt://127.0.0.1:${again.port}`, { protocolVersion: 5, clientId: `${base}-sub` });
      peers.push(sub);
      await sub.client.subscribeAsync(`${base}/t`, { qos: 1 });
      const pub = await connectPeer(`mqtt://127.0.0.1:${survivor.port}`, { protocolVersion: 5, clientId: `${base}-pub` });
      peers.push(pub);
      await untilRouted(() => pub.client.publishAsync(`${base}/t`, 'probe', { qos: 1 }), sub.inbox);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // the survivor's heartbeats: it does not take the node for dead
      assert.notEqual(await cli('hget', `culex:{node:${id}}:routes`, '#seq'), '', 'routes in Redis');
      assert.equal(await cli('hexists', `culex:{node:${id}}:routes`, `${base}/t`), '1', 'the subscription\'s route in Redis');
      assert.equal(await cli('hexists', 'culex:nodes', id), '1', 'status entry in Redis');
      await pub.client.publishAsync(`${base}/t`, 'after', { qos: 1 });
      assert.equal((await sub.inbox.next(3000)).payload, 'after');
    } finally {
      await endPeers(...peers);
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    }
  });

  test('a node that cleaned up after a dead node releases its lock when done: the dead node, restarted at once, joins without waiting', async () => {
    const base = `released-${process.pid}`;
    const id = `${base}-x`;
    const survivor = await startNode(redis.url, `${base}-s`);
    const first = await startNode(redis.url, id);
    const nodes: CulexProcess[] = [survivor, first];
    try {
      await first.stop('SIGKILL');
      await survivor.waitForLog(new RegExp(`node ${id} is gone; node ${base}-s removed its routes`), 15_000);
      await until(async () => (await cli('exists', `culex:{node:${id}}:reaper`)) === '0', 'the reaper lock released');
      const again = await startNode(redis.url, id);
      nodes.push(again);
      assert.doesNotMatch(again.log(), /waiting for it to finish before joining/);
    } finally {
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    }
  });

  test('a clean-up that lasts longer than its lock\'s lifetime (adopting 30 sessions over a slow link) renews the lock: the dead node restarted meanwhile joins after it, keeps its routes and status, and the cleaner never looks dead', async () => {
    const base = `slow-${process.pid}`;
    const id = `${base}-x`;
    const cleanerId = `${base}-s`;
    const dir = mkdtempSync(join(tmpdir(), 'culex-slow-cleanup-'));
    const persist = (node: string): string[] => ['--persistence-location', join(dir, node)];
    // every round trip of the cleaner to Redis takes 60 ms: adopting a session takes three or more
    const slow: TcpCut = await startTcpCut(redis.port, 30);
    const cleaner = await startNode(`redis://127.0.0.1:${slow.port}`, cleanerId, persist('s'));
    const first = await startNode(redis.url, id, persist('x'));
    const nodes: CulexProcess[] = [cleaner, first];
    const peers: Peer[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const client = await connectPeer(`mqtt://127.0.0.1:${first.port}`, { protocolVersion: 5, clientId: `${base}-c${i}`, clean: false, properties: { sessionExpiryInterval: 300 } });
        await client.client.subscribeAsync(`${base}/q/${i}`, { qos: 1 });
        await client.client.endAsync();
      }
      await until(async () => (await cli('scard', `culex:{node:${id}}:sessions`)) === '30', 'the 30 persistent sessions recorded');
      await first.stop('SIGKILL');
      await until(async () => (await cli('get', `culex:{node:${id}}:reaper`)) === cleanerId, 'the cleaner took the dead node\'s lock');
      const lockTaken = Date.now();

      const again = await startNode(redis.url, id, persist('x'), new RegExp(`node ${cleanerId} is cleaning up after the previous run of node ${id}; waiting for it to finish before joining`));
      nodes.push(again);
      await again.waitForLog(/culex version \S+ running/, 60_000);
      assert.match(cleaner.log(), new RegExp(`node ${id} is gone; node ${cleanerId} removed its routes, adopted 30 persistent sessions`), 'the clean-up was over when the node joined');
      assert.ok(Date.now() - lockTaken > 2500, `the clean-up outlived the lock's lifetime of three heartbeats (1.5 s): ${Date.now() - lockTaken} ms`);

      const sub = await connectPeer(`mqtt://127.0.0.1:${again.port}`, { protocolVersion: 5, clientId: `${base}-sub` });
      peers.push(sub);
      await sub.client.subscribeAsync(`${base}/t`, { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 1500)); // three heartbeats
      assert.equal(await cli('hexists', `culex:{node:${id}}:routes`, `${base}/t`), '1', 'the restarted node\'s routes in Redis');
      assert.equal(await cli('exists', `culex:{node:${id}}:alive`), '1', 'alive');
      assert.doesNotMatch(cleaner.log(), /keys were gone|lost the clean-up lock/, 'the cleaner kept its alive key and its lock while it worked');
    } finally {
      await endPeers(...peers);
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
      await slow.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
