// Persistent sessions in Redis that outlive what happens to their node or to Redis: a node stopped
// gracefully (SIGTERM) hands its offline sessions to another node at once, so messages published
// afterwards are queued for them. Real redis-server (no persistence of its own) and `culex broker
// --cluster --persistence-location` child processes, driven by MQTT.js.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
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
});
