// Persistent sessions in Redis that outlive what happens to their node or to Redis: a node stopped
// gracefully (SIGTERM) hands its offline sessions to another node at once, so messages published
// afterwards are queued for them; after Redis restarted empty or was flushed, the nodes write back
// the sessions and retained messages they hold, so a later node failure or client move loses
// nothing; a re-synchronisation that failed is run again on a later heartbeat. Real redis-server
// (no persistence of its own) and `culex broker --cluster --persistence-location` child processes,
// driven by MQTT.js.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { runTool } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';
import { SessionNodes, untilRouted } from '../helpers/cluster-nodes.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;
let counter = 0;
const unique = (name: string): string => `survival/${name}-${process.pid}-${++counter}`;
const url = (node: CulexProcess): string => `mqtt://127.0.0.1:${node.port}`;
const persistent = (clientId: string): object => ({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
const numbers = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

/** Publishes `${topic}` payloads 0..count-1 at QoS 1, one after the other; returns the PUBACK reason codes. */
async function publishNumbered(pub: Peer, topic: string, from: number, count: number): Promise<number[]> {
  const reasons: number[] = [];
  for (let i = from; i < from + count; i++) {
    const ack = await pub.client.publishAsync(topic, String(i), { qos: 1 });
    reasons.push((ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0);
  }
  return reasons;
}

/** Takes messages until every expected payload arrived (QoS 1: duplicates allowed), bounded. */
async function receiveAll(peer: Peer, expected: readonly number[], timeoutMs: number): Promise<Set<number>> {
  const got = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  while (expected.some((n) => !got.has(n)) && Date.now() < deadline) {
    try {
      got.add(Number((await peer.inbox.next(Math.max(1, deadline - Date.now()))).payload));
    } catch {
      break;
    }
  }
  return got;
}

/** Publishes QoS 1 probes until one is accepted with a subscriber (its route is back on the publisher's node), bounded. */
async function untilMatched(pub: Peer, topic: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [reason] = await publishNumbered(pub, topic, 0, 1);
    if (reason === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no node took ${topic} again`);
}

describe('persistent sessions in Redis outliving their node', { skip }, () => {
  let redis: RedisServer;
  let env: SessionNodes;
  before(async () => {
    redis = await startRedis();
    env = new SessionNodes(redis.url);
    await env.startThree('v');
  });
  after(async () => {
    await env?.stop();
    await redis?.destroy();
  });

  const cli = (...args: string[]): Promise<string> => runTool('redis-cli', ['-p', String(redis.port), ...args]).then((r) => r.stdout.trim());

  /** Polls Redis until the session of id is there again with at least `queued` outgoing entries. */
  async function sessionBack(id: string, queued: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await cli('exists', `culex:{s:${id}}:session`)) === '1' && Number(await cli('hlen', `culex:{s:${id}}:out`)) >= queued) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the session of ${id} never came back to Redis: ${env.list.map((n) => n.log()).join('\n')}`);
  }

  /**
   * A persistent QoS 1 subscriber on a node of its own, away, with 10 messages queued from nodeB;
   * then `lose` (Redis loses everything); then, once the session is back in Redis and routed, 10 more.
   */
  async function queueAcrossLoss(base: string, lose: () => Promise<unknown>, retainedTopic?: string): Promise<{ holder: CulexProcess; pub: Peer; id: string }> {
    const id = `${base}-sub`;
    const holder = await env.start(`${base}-node`);
    const sub = await connectPeer(url(holder), persistent(id));
    const pub = await connectPeer(url(env.list[1]!), { protocolVersion: 5, clientId: `${base}-pub` });
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
      await endPeers(sub);
      assert.deepEqual(await publishNumbered(pub, `${base}/t`, 0, 10), Array(10).fill(0));
      if (retainedTopic !== undefined) await pub.client.publishAsync(retainedTopic, 'kept', { qos: 1, retain: true });
      await lose();
      await sessionBack(id, 10);
      await untilMatched(pub, `${base}/probe`);
      assert.deepEqual(await publishNumbered(pub, `${base}/t`, 10, 10), Array(10).fill(0));
      return { holder, pub, id };
    } catch (error) {
      await endPeers(pub);
      await holder.stop('SIGKILL');
      throw error;
    }
  }

  test('a node stopped gracefully (SIGTERM) hands its offline persistent sessions over at once: QoS 1 messages published afterwards on another node are queued and delivered when the client resumes through a third node [MQTT-3.2.2-3]', async () => {
    const [nodeB, nodeC] = env.list;
    const base = unique('sigterm');
    const id = `${base}-sub`;
    const leaving = await env.start(`${base}-node`);
    const sub = await connectPeer(url(leaving), persistent(id));
    const pub = await connectPeer(url(nodeB!), { protocolVersion: 5, clientId: `${base}-pub` });
    let back: Peer | undefined;
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
      await endPeers(sub); // away: its session waits on the leaving node
      const exit = await leaving.stop('SIGTERM');
      assert.equal(exit.code, 0, 'the node stopped gracefully');
      const reasons = await publishNumbered(pub, `${base}/t`, 0, 20);
      // 0x10 No matching subscribers would mean the session was dropped from the route table
      assert.deepEqual(reasons, reasons.map(() => 0), 'every message had a subscriber: the session stayed routed');
      back = await connectPeer(url(nodeC!), persistent(id), 20_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was kept');
      const got = await receiveAll(back, numbers(20), 20_000);
      assert.deepEqual([...got].sort((a, b) => a - b), numbers(20), `received ${[...got].join(' ')}; ${[...env.list.map((n) => n.log()), leaving.log()].join('\n')}`);
    } finally {
      await endPeers(sub, pub, back);
      await leaving.stop('SIGKILL');
    }
  });

  test('Redis restarted empty: the node holding an offline persistent session writes it back with its queued QoS 1 messages, and the retained messages come back; when that node is then SIGKILLed the client resumes through another node with every message [MQTT-3.2.2-3]', async () => {
    const base = unique('restart');
    const retainedTopic = `${base}-retained/x`;
    const { holder, pub, id } = await queueAcrossLoss(
      base,
      async () => {
        await redis.stop();
        await redis.start(); // no AOF, no RDB: empty
      },
      retainedTopic,
    );
    let back: Peer | undefined;
    try {
      for (let i = 0; i < 50 && (await cli('hexists', 'culex:retained', retainedTopic)) !== '1'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await cli('hexists', 'culex:retained', retainedTopic), '1', 'the retained message is in Redis again');
      await holder.stop('SIGKILL');
      back = await connectPeer(url(env.list[2]!), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was adopted from what the node wrote back');
      const got = await receiveAll(back, numbers(20), 30_000);
      assert.deepEqual(numbers(20).filter((n) => !got.has(n)), [], `${[...env.list.map((n) => n.log()), holder.log()].join('\n')}`);
    } finally {
      await endPeers(pub, back);
      await holder.stop('SIGKILL');
    }
  });

  test('a re-synchronisation that fails (Redis refuses a command it needs) is retried on a later heartbeat: the retained messages come back to Redis once it succeeds', async () => {
    const base = unique('retry');
    const topic = `${base}/kept`;
    const pub = await connectPeer(url(env.list[0]!), { protocolVersion: 5, clientId: `${base}-pub` });
    try {
      await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
      for (let i = 0; i < 50 && (await cli('hexists', 'culex:retained', topic)) !== '1'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await cli('hexists', 'culex:retained', topic), '1');
      // every node's re-synchronisation reads the node list with HGETALL: refused, it fails
      await cli('acl', 'setuser', 'default', '-hgetall');
      try {
        await cli('flushall');
        const failures = (): number[] => env.list.map((node) => node.log().split('re-synchronisation failed').length - 1);
        const before = failures();
        const allFailed = (): boolean => failures().every((count, i) => count > before[i]!);
        for (let i = 0; i < 100 && !allFailed(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
        assert.ok(allFailed(), `not every node's re-synchronisation failed: ${env.list.map((n) => n.log()).join('\n')}`);
      } finally {
        await cli('acl', 'setuser', 'default', '+hgetall');
      }
      for (let i = 0; i < 50 && (await cli('hexists', 'culex:retained', topic)) !== '1'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await cli('hexists', 'culex:retained', topic), '1', `the retained message is in Redis again: ${env.list.map((n) => n.log()).join('\n')}`);
    } finally {
      await endPeers(pub);
    }
  });

  test('Redis flushed (FLUSHALL) with every node still connected: the holder finds its keys gone at its next heartbeat and writes its offline session back; the client then moves to another node with its session and every queued message [MQTT-3.2.2-3]', async () => {
    const base = unique('flush');
    const { holder, pub, id } = await queueAcrossLoss(base, () => cli('flushall'));
    let back: Peer | undefined;
    try {
      back = await connectPeer(url(env.list[2]!), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was handed over');
      const got = await receiveAll(back, numbers(20), 30_000);
      assert.deepEqual(numbers(20).filter((n) => !got.has(n)), [], `${[...env.list.map((n) => n.log()), holder.log()].join('\n')}`);
    } finally {
      await endPeers(pub, back);
      await holder.stop('SIGKILL');
    }
  });
});

describe('persistent sessions in Redis outliving the last node of the cluster', { skip }, () => {
  let redis: RedisServer;
  let env: SessionNodes;
  before(async () => {
    redis = await startRedis();
    env = new SessionNodes(redis.url);
  });
  after(async () => {
    await env?.stop();
    await redis?.destroy();
  });

  /** Starts the node again with the same id; a SIGKILLed one's alive key must expire first (1.5 s). */
  async function restart(id: string): Promise<CulexProcess> {
    for (let i = 0; ; i++) {
      try {
        return await env.start(id);
      } catch (error) {
        if (i >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`the last node, stopped (${signal}) and started again with the same id before anyone cleaned up after it, adopts its own persistent sessions: QoS 1 messages published through it meanwhile are queued and delivered when the client resumes [MQTT-3.2.2-3]`, async () => {
      const base = unique(`rejoin-${signal.toLowerCase()}`);
      const id = `${base}-sub`;
      const nodeId = `${base}-node`;
      const first = await env.start(nodeId);
      const sub = await connectPeer(url(first), persistent(id));
      let again: CulexProcess | undefined;
      let pub: Peer | undefined;
      let back: Peer | undefined;
      try {
        await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
        await sub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 });
        await sub.inbox.next(5000);
        await endPeers(sub); // away: its session waits in Redis
        await first.stop(signal);
        again = await restart(nodeId);
        pub = await connectPeer(url(again), { protocolVersion: 5, clientId: `${base}-pub` });
        // 0x10 No matching subscribers would mean the session was left unrouted in Redis
        const reasons = await publishNumbered(pub, `${base}/t`, 0, 20);
        assert.deepEqual(reasons, reasons.map(() => 0), 'every message had a subscriber: the session was adopted');
        back = await connectPeer(url(again), persistent(id), 20_000);
        assert.equal(back.connack.sessionPresent, true, 'the session was kept');
        const got = await receiveAll(back, numbers(20), 10_000);
        assert.deepEqual([...got].sort((a, b) => a - b), numbers(20), `received ${[...got].join(' ')}; ${again.log()}`);
      } finally {
        await endPeers(sub, pub, back);
        await first.stop('SIGKILL');
        await again?.stop('SIGKILL');
      }
    });
  }
});
