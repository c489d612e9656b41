// Expired retained messages leave Redis without any node reading culex:retained: two Culex nodes
// (`culex broker --cluster URL --cluster-retained-sweep 0.3`) on a real redis-server, MQTT.js v5
// publishers with a short Message Expiry Interval, and redis-cli looking at what Redis holds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';
import { runTool } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';
import { startNode, waitForStatus } from '../helpers/cluster-nodes.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;
const EXPIRY_SET = '{culex:retained}:expiry';

describe('expired retained messages swept out of Redis', { skip }, () => {
  let redis: RedisServer;
  const nodes: CulexProcess[] = [];
  const cli = (...args: string[]): Promise<string> => runTool('redis-cli', ['-p', String(redis.port), ...args]).then((r) => r.stdout.trim());
  before(async () => {
    redis = await startRedis();
    for (const id of ['w1', 'w2']) nodes.push(await startNode(redis.url, id, ['--cluster-retained-sweep', '0.3']));
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
    await redis?.destroy();
  });

  test('a retained message whose Message Expiry Interval has passed is removed from Redis by the periodic sweep, while unexpired and non-expiring ones stay [MQTT-3.3.2-5]', async () => {
    const base = `sweep-${process.pid}`;
    const pub = await connectPeer(`mqtt://127.0.0.1:${nodes[0]!.port}`, { protocolVersion: 5, clientId: `${base}-pub` });
    try {
      await pub.client.publishAsync(`${base}/short`, 'gone in 1 s', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      await pub.client.publishAsync(`${base}/long`, 'for an hour', { qos: 1, retain: true, properties: { messageExpiryInterval: 3600 } });
      await pub.client.publishAsync(`${base}/forever`, 'no expiry', { qos: 1, retain: true });
      // first with a 1 s expiry, then replaced by one without: the replacement must survive the sweep
      await pub.client.publishAsync(`${base}/replaced`, 'old', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      await pub.client.publishAsync(`${base}/replaced`, 'new, no expiry', { qos: 1, retain: true });
      const held = async (): Promise<string[]> => {
        const topics = [];
        for (const name of ['short', 'long', 'forever', 'replaced']) if ((await cli('hexists', 'culex:retained', `${base}/${name}`)) === '1') topics.push(name);
        return topics;
      };
      for (let i = 0; i < 50 && (await held()).length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(await held(), ['short', 'long', 'forever', 'replaced'], 'all four in Redis at first');
      assert.notEqual(await cli('zscore', EXPIRY_SET, `${base}/short`), '', 'the expiry is indexed');
      assert.equal(await cli('zscore', EXPIRY_SET, `${base}/replaced`), '', 'a replacement without expiry leaves the index');

      for (let i = 0; i < 50 && (await held()).includes('short'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(await held(), ['long', 'forever', 'replaced'], 'the expired message is gone from Redis, nothing else');
      assert.equal(await cli('zscore', EXPIRY_SET, `${base}/short`), '', 'and from the index');
      assert.equal(await cli('hget', 'culex:retained', `${base}/replaced`).then((frame) => frame.includes('new, no expiry')), true);
      await waitForStatus(redis.url, (status) => status.nodes.some((node) => (node.retainedSwept ?? 0) >= 1), 'a node counting the sweep');
    } finally {
      await endPeers(pub);
    }
  });
});
