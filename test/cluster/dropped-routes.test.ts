// A dead node's routes once its sessions are adopted: the cleaner announces the node `dropped` (its
// routes leave every table) long before its clean-up ends with `gone`, and meanwhile the node's
// status entry stays in Redis. The other nodes' heartbeat route check must not read the dead node's
// routes back in then: a node that did would send QoS 1/2 messages to the dead node's inbox, which
// the cleaner has already replayed and deleted, so they were acknowledged and never delivered (one
// of a shared group's messages in two; a plain subscription's reach the adopted session directly too,
// and must not be delivered twice when replayed). Real redis-server and `culex broker --cluster` processes with sessions in
// Redis; the two surviving nodes reach Redis through a relay that delays every round trip, so the
// clean-up (30 sessions adopted) lasts several heartbeats.
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
import { until } from '../helpers/until.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;
const url = (node: CulexProcess): string => `mqtt://127.0.0.1:${node.port}`;
const persistent = (clientId: string): object => ({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } });

describe('a dead node whose sessions were adopted, while its clean-up goes on', { skip }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.destroy();
  });

  const cli = (...args: string[]): Promise<string> => redisCli(redis.port, ...args);


  test('QoS 1 and 2 messages published on a third node during a slow clean-up of a SIGKILLed node reach its resuming persistent subscribers: every one to a shared subscription, each QoS 2 one to a plain subscription once [MQTT-4.3.3-1]', async () => {
    const base = `dropped-${process.pid}`;
    const deadId = `${base}-x`;
    const dir = mkdtempSync(join(tmpdir(), 'culex-dropped-'));
    const persist = (node: string): string[] => ['--persistence-location', join(dir, node)];
    // every round trip of the two survivors to Redis takes 60 ms: adopting a session takes three or
    // more, and the clean-up goes on for seconds after the node is dropped from the route table
    const relays: TcpCut[] = [await startTcpCut(redis.port, 30), await startTcpCut(redis.port, 30)];
    const survivors = [await startNode(`redis://127.0.0.1:${relays[0]!.port}`, `${base}-a`, persist('a')), await startNode(`redis://127.0.0.1:${relays[1]!.port}`, `${base}-b`, persist('b'))];
    const dead = await startNode(redis.url, deadId, persist('x'));
    const nodes: CulexProcess[] = [...survivors, dead];
    const peers: Peer[] = [];
    try {
      const shared = await connectPeer(url(dead), persistent(`${base}-shared`));
      const plain = await connectPeer(url(dead), persistent(`${base}-plain`));
      peers.push(shared, plain);
      await shared.client.subscribeAsync(`$share/g/${base}/t`, { qos: 1 });
      await plain.client.subscribeAsync(`${base}/e`, { qos: 2 });
      for (let i = 0; i < 30; i++) {
        const client = await connectPeer(url(dead), persistent(`${base}-c${i}`));
        await client.client.subscribeAsync(`${base}/q/${i}`, { qos: 1 });
        await client.client.endAsync();
      }
      for (const survivor of survivors) {
        const probe = await connectPeer(url(survivor), { protocolVersion: 5, clientId: `${base}-probe-${survivor.port}` });
        await untilRouted(() => probe.client.publishAsync(`${base}/e`, 'probe', { qos: 1 }), plain.inbox);
        await endPeers(probe);
      }
      shared.inbox.drain();
      await endPeers(shared, plain); // away: their sessions wait on the node about to die
      await until(async () => (await cli('scard', `culex:{node:${deadId}}:sessions`)) === '32', 'the 32 persistent sessions recorded');

      await dead.stop('SIGKILL');
      let cleanerId = '';
      await until(async () => (cleanerId = await cli('get', `culex:{node:${deadId}}:reaper`)) !== '', 'a survivor took the dead node\'s lock');
      const cleaner = survivors.find((node) => cleanerId.endsWith(node === survivors[0] ? '-a' : '-b'))!;
      const third = survivors.find((node) => node !== cleaner)!;

      // a third node's publishers, eight messages in flight each: QoS 1 for the shared group, QoS 2 for
      // the plain subscription, until the clean-up is over and a heartbeat more
      const pub = await connectPeer(url(third), { protocolVersion: 5, clientId: `${base}-pub` });
      peers.push(pub);
      let over = false;
      const publish = async (topic: string, qos: 1 | 2): Promise<number> => {
        let sent = 0;
        const reasons: number[] = [];
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (!over) {
              const n = sent++;
              const ack = await pub.client.publishAsync(topic, String(n), { qos });
              reasons[n] = (ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
            }
          }),
        );
        assert.deepEqual(reasons.filter((reason) => reason !== 0), [], `every message to ${topic} had a subscriber`);
        return sent;
      };
      const publishing = Promise.all([publish(`${base}/t`, 1), publish(`${base}/e`, 2)]);
      await cleaner.waitForLog(new RegExp(`node ${deadId} is gone; node ${cleanerId} removed its routes, adopted 32 persistent sessions`), 30_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      over = true;
      const [sentShared, sentPlain] = await publishing;
      assert.ok(sentShared > 100 && sentPlain > 100, `published ${sentShared} and ${sentPlain} during the clean-up`);

      const resume = async (clientId: string, sent: number): Promise<Map<number, number>> => {
        const back = await connectPeer(url(third), persistent(clientId), 20_000);
        peers.push(back);
        assert.equal(back.connack.sessionPresent, true, `the session of ${clientId} was kept [MQTT-3.2.2-3]`);
        const got = new Map<number, number>();
        const count = (payload: string): void => void got.set(Number(payload), (got.get(Number(payload)) ?? 0) + 1);
        const deadline = Date.now() + 20_000;
        while (got.size < sent && Date.now() < deadline) {
          try {
            count((await back.inbox.next(Math.max(1, deadline - Date.now()))).payload);
          } catch {
            break;
          }
        }
        while (!(await back.inbox.nothingWithin(300))) for (const { payload } of back.inbox.drain()) count(payload);
        return got;
      };
      const numbers = (sent: number): number[] => Array.from({ length: sent }, (_, i) => i);
      const logs = (): string => nodes.map((node) => node.log()).join('\n');
      const sharedGot = await resume(`${base}-shared`, sentShared);
      const lost = numbers(sentShared).filter((n) => !sharedGot.has(n));
      assert.deepEqual(lost, [], `the shared subscription lost ${lost.length} of ${sentShared} acknowledged messages\n${logs()}`);
      const plainGot = await resume(`${base}-plain`, sentPlain);
      assert.deepEqual(numbers(sentPlain).filter((n) => !plainGot.has(n)), [], 'the plain subscription got every message');
      const twice = numbers(sentPlain).filter((n) => (plainGot.get(n) ?? 0) > 1);
      assert.deepEqual(twice, [], `QoS 2: ${twice.length} of ${sentPlain} messages delivered twice [MQTT-4.3.3-1]`);
    } finally {
      await endPeers(...peers);
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
      await Promise.all(relays.map((relay) => relay.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
