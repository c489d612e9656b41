// Three Culex nodes on a real three-primary Redis Cluster (redis-cli --cluster create): per-node
// data channels are sharded channels (SSUBSCRIBE/SPUBLISH) spread over the shards, and delivery,
// retained messages, takeover and shared subscriptions work as on a single Redis server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers, waitFor } from '../helpers/mqttjs.js';
import { runTool, startTool, subscribed } from '../helpers/processes.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis.js';
import { needTools, requireTool } from '../helpers/tools.js';
import { clusterStatus, startNode, untilRouted, waitForStatus } from '../helpers/cluster-nodes.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
let redis: RedisCluster;
const nodes: CulexProcess[] = [];
let counter = 0;
const unique = (name: string): string => `rc/${name}-${process.pid}-${++counter}`;
const url = (i: number): string => `mqtt://127.0.0.1:${nodes[i]!.port}`;

before(async () => {
  if (!haveRedis) return;
  redis = await startRedisCluster();
  for (const name of ['c1', 'c2', 'c3']) nodes.push(await startNode(redis.url, name));
});
after(async () => {
  await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
  await redis?.stop();
});

describe('three nodes on a three-primary Redis Cluster', { skip: !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false }, () => {
  test('each node listens on a sharded channel (SSUBSCRIBE), not on a broadcast one', async () => {
    const channels = new Set<string>();
    let plainData = 0;
    for (const server of redis.servers) {
      const shard = await runTool('redis-cli', ['-p', String(server.port), 'pubsub', 'shardchannels', 'culex:*']);
      for (const line of shard.stdout.split('\n')) if (line.trim() !== '') channels.add(line.trim());
      const plain = await runTool('redis-cli', ['-p', String(server.port), 'pubsub', 'channels', 'culex:{node:*']);
      plainData += plain.stdout.split('\n').filter((line) => line.trim() !== '').length;
    }
    assert.deepEqual([...channels].sort(), ['c1', 'c2', 'c3'].map((id) => `culex:{node:${id}}:data`));
    assert.equal(plainData, 0);
  });

  test('QoS 2 messages cross nodes through the shards, in order (100 messages)', async () => {
    const base = unique('qos');
    const sub = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-s` });
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 2 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub.inbox);
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) sends.push(pub.client.publishAsync(`${base}/t`, String(i), { qos: 2 }));
      await Promise.all(sends);
      const got = await sub.inbox.take(100, 20_000);
      assert.deepEqual(got.map((m) => Number(m.payload)), Array.from({ length: 100 }, (_, i) => i));
    } finally {
      await endPeers(sub, pub);
    }
  });

  test('mosquitto_pub on one node reaches mosquitto_sub on another', async (t) => {
    if (!needTools(t, ['mosquitto_pub', 'mosquitto_sub'])) return;
    const base = unique('mosq');
    const sub = startTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(nodes[2]!.port), '-V', 'mqttv311', '-q', '1', '-t', `${base}/#`, '-W', '90', '-F', '%t %p', '-d']);
    await sub.waitForStdout(subscribed);
    let probes = 0;
    for (; probes < 100 && !/probe/.test(sub.stdout); probes++) {
      await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(nodes[0]!.port), '-t', `${base}/probe`, '-m', 'p']);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(probes < 100, `the route never reached node 1: ${sub.stdout} ${sub.stderr}`);
    const pub = await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(nodes[0]!.port), '-q', '1', '-t', `${base}/x`, '-m', 'over the shards']);
    assert.equal(pub.code, 0, pub.stderr);
    await sub.waitForStdout(new RegExp(`${base}/x over the shards`), 60_000);
    sub.kill('SIGTERM');
    await sub.result();
  });

  test('retained messages, client id takeover (0x8E) and shared subscriptions work on a Redis Cluster', async () => {
    const base = unique('mixed');
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    const first = await connectPeer(url(2), { protocolVersion: 5, clientId: `${base}-c` });
    const members = [await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-m1` }), await connectPeer(url(2), { protocolVersion: 5, clientId: `${base}-m2` })];
    try {
      await pub.client.publishAsync(`${base}/state`, 'kept', { qos: 1, retain: true });
      await waitForStatus(redis.url, (s) => s.retained >= 1, 'the retained message in Redis');
      let retained: string | undefined;
      for (let i = 0; i < 40 && retained === undefined; i++) {
        const sub = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-r${i}` });
        await sub.client.subscribeAsync(`${base}/state`, { qos: 1 });
        if (!(await sub.inbox.nothingWithin(150))) retained = sub.inbox.drain()[0]!.payload;
        await endPeers(sub);
      }
      assert.equal(retained, 'kept');

      const disconnected = waitFor(first.client, 'disconnect', 15_000);
      const second = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-c` });
      assert.equal((await disconnected)[0].reasonCode, 0x8e);
      await endPeers(second);

      for (const member of members) await member.client.subscribeAsync(`$share/g/${base}/work`, { qos: 1 });
      const seen = new Set<number>();
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        await pub.client.publishAsync(`${base}/work`, 'probe', { qos: 1 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        members.forEach((m, at) => m.inbox.size > 0 && seen.add(at));
      }
      assert.equal(seen.size, 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const m of members) m.inbox.drain();
      for (let i = 0; i < 30; i++) await pub.client.publishAsync(`${base}/work`, String(i), { qos: 1 });
      const deadline = Date.now() + 15_000;
      const got: number[] = [];
      while (got.length < 30 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (const m of members) got.push(...m.inbox.drain().map((r) => Number(r.payload)));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const m of members) got.push(...m.inbox.drain().map((r) => Number(r.payload)));
      assert.deepEqual(got.sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'one delivery per message in the group');
      const status = await clusterStatus(redis.url);
      assert.deepEqual(status.nodes.map((n) => n.id), ['c1', 'c2', 'c3']);
    } finally {
      first.client.end(true);
      await endPeers(pub, ...members);
    }
  });
});
