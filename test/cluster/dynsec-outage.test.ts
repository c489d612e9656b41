// Dynamic security across a Redis outage of one node: two `culex broker --cluster` nodes with the
// dynamic-security plugin, n2 reaching Redis through a relay the test cuts. A change made on n1
// while n2 is cut off is taken by n2 on its return, which disconnects the clients it concerns; a
// change made on n2 while it is cut off is written on its return, and n1 disconnects the clients
// it concerns.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initialState } from '../../src/auth/dynsec/init.js';
import { saveDynsecFile } from '../../src/auth/dynsec/file.js';
import type { CulexProcess } from '../helpers/culex-process.js';
import { startNode } from '../helpers/cluster-nodes.js';
import { connectPeer, endPeers, waitFor, type Peer } from '../helpers/mqttjs.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startTcpCut, type TcpCut } from '../helpers/tcp-cut.js';
import { requireTool } from '../helpers/tools.js';
import { DYNSEC_CONTROL, dynsecControl as control, loginEventually as loginAs } from '../helpers/dynsec-control.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const CONTROL = DYNSEC_CONTROL;
let redis: RedisServer;
let relay: TcpCut;
let dir: string;
const nodes: CulexProcess[] = [];
const url = (i: number): string => `mqtt://127.0.0.1:${nodes[i]!.port}`;

before(async () => {
  if (!haveRedis) return;
  redis = await startRedis();
  relay = await startTcpCut(redis.port);
  dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-outage-'));
  for (let i = 0; i < 2; i++) {
    mkdirSync(join(dir, `n${i + 1}`));
    const file = join(dir, `n${i + 1}`, 'dynamic-security.json');
    saveDynsecFile(file, initialState('admin', 'admin-pw'));
    const conf = join(dir, `n${i + 1}.conf`);
    writeFileSync(conf, `plugin dynamic-security\nplugin_opt_config_file ${file}\nallow_anonymous false\n`);
    const redisUrl = i === 0 ? redis.url : `redis://127.0.0.1:${relay.port}`;
    nodes.push(await startNode(redisUrl, `outage-n${i + 1}`, ['-c', conf]));
  }
});
after(async () => {
  await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
  await relay?.close();
  await redis?.destroy();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Connects as admin on node i, subscribed to the control responses. */
async function admin(i: number): Promise<Peer> {
  const peer = await connectPeer(url(i), { protocolVersion: 5, clientId: `admin-n${i + 1}`, username: 'admin', password: 'admin-pw' });
  await peer.client.subscribeAsync(`${CONTROL}/response`, { qos: 1 });
  return peer;
}

/** Connects as the user on node i, retrying while the node has not taken the change yet. */
function loginEventually(i: number, username: string, password: string): Promise<Peer> {
  return loginAs(url(i), `${username}-on-n${i + 1}`, username, password);
}

/** Cuts n2 off from Redis until it notices, runs `during`, then restores it and waits for its re-synchronisation. */
async function whileN2CutOff(during: () => Promise<void>): Promise<void> {
  const n2 = nodes[1]!;
  const outages = (n2.log().match(/Cluster: connection to Redis lost/g) ?? []).length;
  const resyncs = (n2.log().match(/Cluster: Redis is back; node outage-n2 re-synchronised/g) ?? []).length;
  relay.cut();
  try {
    await n2.waitForLog(new RegExp(`connection to Redis lost; serving local clients only until it returns \\(outage ${outages + 1}\\)`), 10_000);
    await during();
  } finally {
    relay.restore();
  }
  const deadline = Date.now() + 30_000;
  while ((n2.log().match(/Cluster: Redis is back; node outage-n2 re-synchronised/g) ?? []).length === resyncs) {
    if (Date.now() > deadline) throw new Error(`n2 never re-synchronised: ${n2.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('dynamic security across one node\'s Redis outage', { skip: !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false }, () => {
  test('a client disabled on n1 while n2 is cut off from Redis is disconnected on n2 (0x98) when n2 is back, and refused there', async () => {
    const a1 = await admin(0);
    let sensor: Peer | undefined;
    try {
      assert.deepEqual(await control(a1, [{ command: 'createClient', username: 'sensor1', password: 'pw1' }]), [{ command: 'createClient' }]);
      sensor = await loginEventually(1, 'sensor1', 'pw1');
      const disconnected = waitFor(sensor.client, 'disconnect', 40_000);
      await whileN2CutOff(async () => {
        assert.deepEqual(await control(a1, [{ command: 'disableClient', username: 'sensor1' }]), [{ command: 'disableClient' }]);
        assert.equal(sensor!.client.connected, true, 'n2 does not know yet');
      });
      const [packet] = await disconnected;
      assert.equal(packet.reasonCode, 0x98, 'Administrative action');
      await nodes[1]!.waitForLog(/dynamic-security configuration dynamic-security\.json changed on another node while this one was cut off from Redis; taken, and the 1 connected client it concerns disconnected/);
      sensor.client.end(true);
      await assert.rejects(connectPeer(url(1), { protocolVersion: 5, clientId: 'sensor1-again', username: 'sensor1', password: 'pw1' }), 'disabled on n2');
    } finally {
      await endPeers(a1, sensor);
    }
  });

  test('a client deleted through n2 while n2 is cut off from Redis is disconnected on n1 (0x98) when n2 is back and writes its change', async () => {
    const a1 = await admin(0);
    let sensor: Peer | undefined;
    let a2: Peer | undefined;
    try {
      assert.deepEqual(await control(a1, [{ command: 'createClient', username: 'sensor2', password: 'pw2' }]), [{ command: 'createClient' }]);
      sensor = await loginEventually(0, 'sensor2', 'pw2');
      a2 = await admin(1);
      await loginEventually(1, 'sensor2', 'pw2').then((peer) => endPeers(peer)); // n2 has taken the client
      const disconnected = waitFor(sensor.client, 'disconnect', 40_000);
      await whileN2CutOff(async () => {
        assert.deepEqual(await control(a2!, [{ command: 'deleteClient', username: 'sensor2' }]), [{ command: 'deleteClient' }]);
      });
      const [packet] = await disconnected;
      assert.equal(packet.reasonCode, 0x98, 'Administrative action');
      sensor.client.end(true);
      await assert.rejects(connectPeer(url(0), { protocolVersion: 5, clientId: 'sensor2-again', username: 'sensor2', password: 'pw2' }), 'deleted on n1');
    } finally {
      await endPeers(a1, a2, sensor);
    }
  });
});
