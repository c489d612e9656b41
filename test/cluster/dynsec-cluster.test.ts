// Dynamic security on a cluster: three `culex broker --cluster` nodes on one redis-server, each with
// the dynamic-security plugin on its own file. A $CONTROL/dynamic-security/v1 command sent to one
// node takes effect on every node: a client created on n1 logs in on n2, one disabled on n1 is
// disconnected on n2 and refused on n3; a node joining takes the cluster's configuration; Redis
// restarted empty gets it back from the nodes.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initialState } from '../../src/auth/dynsec/init.js';
import { saveDynsecFile } from '../../src/auth/dynsec/file.js';
import type { CulexProcess } from '../helpers/culex-process.js';
import { startNode } from '../helpers/cluster-nodes.js';
import { connectPeer, endPeers, waitFor, type Peer } from '../helpers/mqttjs.js';
import { runTool } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';
import { DYNSEC_CONTROL, dynsecControl as control, loginEventually as loginAs } from '../helpers/dynsec-control.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const CONTROL = DYNSEC_CONTROL;
let redis: RedisServer;
let dir: string;
const nodes: CulexProcess[] = [];
const url = (i: number): string => `mqtt://127.0.0.1:${nodes[i]!.port}`;
const file = (i: number): string => join(dir, `n${i + 1}`, 'dynamic-security.json');

before(async () => {
  if (!haveRedis) return;
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-cluster-'));
  for (let i = 0; i < 3; i++) {
    mkdirSync(join(dir, `n${i + 1}`));
    // n1 starts first and shares its file; n2 and n3 start with another admin password, which the
    // cluster's configuration replaces as they join
    saveDynsecFile(file(i), initialState('admin', i === 0 ? 'admin-pw' : 'stale-pw'));
    const conf = join(dir, `n${i + 1}.conf`);
    writeFileSync(conf, `plugin dynamic-security\nplugin_opt_config_file ${file(i)}\nallow_anonymous false\n`);
    nodes.push(await startNode(redis.url, `n${i + 1}`, ['-c', conf]));
  }
});
after(async () => {
  await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
  await redis?.destroy();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Connects as the user on node i, retrying while the node has not taken the change yet. */
function loginEventually(i: number, username: string, password: string): Promise<Peer> {
  return loginAs(url(i), `${username}-on-n${i + 1}`, username, password);
}

/** True once a login as the user on the node is refused (bounded: 5 s); a node takes a change a Redis round trip after it is made. */
async function refusedEventually(i: number, username: string, password: string): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      await endPeers(await connectPeer(url(i), { protocolVersion: 5, clientId: `${username}-on-n${i + 1}`, username, password }));
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('dynamic security on three nodes', { skip: !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false }, () => {
  test('a node joining takes the cluster configuration from Redis: n2 and n3 accept the admin password of n1, not their own file', async () => {
    const onN2 = await connectPeer(url(1), { protocolVersion: 5, clientId: 'admin-n2', username: 'admin', password: 'admin-pw' });
    await endPeers(onN2);
    await assert.rejects(connectPeer(url(2), { protocolVersion: 5, clientId: 'admin-n3', username: 'admin', password: 'stale-pw' }));
  });

  test('createClient sent to n1 lets the client log in on n2, and n2 saves it to its own file; disableClient on n1 disconnects it on n2 (0x98) and refuses it on n3', async () => {
    const admin = await connectPeer(url(0), { protocolVersion: 5, clientId: 'admin-n1', username: 'admin', password: 'admin-pw' });
    try {
      await admin.client.subscribeAsync(`${CONTROL}/response`, { qos: 1 });
      assert.deepEqual(await control(admin, [{ command: 'createClient', username: 'sensor7', password: 'pw7' }]), [{ command: 'createClient' }]);
      const sensor = await loginEventually(1, 'sensor7', 'pw7');
      assert.ok(
        (JSON.parse(readFileSync(file(1), 'utf8')) as { clients: { username: string }[] }).clients.some((c) => c.username === 'sensor7'),
        "n2's file has the client",
      );

      const disconnected = waitFor(sensor.client, 'disconnect', 5000);
      assert.deepEqual(await control(admin, [{ command: 'disableClient', username: 'sensor7' }]), [{ command: 'disableClient' }]);
      const [packet] = await disconnected;
      assert.equal(packet.reasonCode, 0x98, 'Administrative action');
      sensor.client.end(true);
      assert.ok(await refusedEventually(2, 'sensor7', 'pw7'), 'disabled on n3 too');
    } finally {
      await endPeers(admin);
    }
  });

  test('Redis restarted empty gets the configuration back from the nodes, and a change made afterwards still reaches every node', async () => {
    const key = 'culex:dynsec:dynamic-security.json';
    const stored = async (): Promise<string> => (await runTool('redis-cli', ['-p', String(redis.port), '--raw', 'hget', key, 'config'])).stdout;
    assert.match(await stored(), /"sensor7"/);
    await redis.stop();
    await redis.start(); // no appendonly: empty
    for (const node of nodes) await node.waitForLog(/Cluster: Redis is back; node \S+ re-synchronised/, 30_000);
    assert.match(await stored(), /"sensor7"/, 'written back');
    const admin = await connectPeer(url(2), { protocolVersion: 5, clientId: 'admin-n3', username: 'admin', password: 'admin-pw' });
    try {
      await admin.client.subscribeAsync(`${CONTROL}/response`, { qos: 1 });
      assert.deepEqual(await control(admin, [{ command: 'enableClient', username: 'sensor7' }]), [{ command: 'enableClient' }]);
      await endPeers(await loginEventually(0, 'sensor7', 'pw7'));
    } finally {
      await endPeers(admin);
    }
  });
});
