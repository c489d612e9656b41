// A dead node's clients' wills are checked against the ACL by the node that sends them, as the
// client's own node would check them (Mosquitto checks write access to the will topic when it sends
// the will): two `culex broker --cluster` nodes share one ACL file; a client on the node that dies
// may publish to wills/<its username> only; its will on that topic reaches a subscriber on the
// surviving node, another client's will on a topic it may not publish to does not.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CulexProcess } from '../helpers/culex-process.js';
import { startNode, untilRouted } from '../helpers/cluster-nodes.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;

describe('wills of a dead node\'s clients and the ACL file', { skip }, () => {
  let redis: RedisServer;
  let dir: string;
  let conf: string;
  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'culex-will-acl-'));
    const acl = join(dir, 'acl');
    // %u: the check needs the client's username, which only its own node knew
    writeFileSync(acl, 'user watcher\ntopic read wills/#\n\npattern write wills/%u\n');
    conf = join(dir, 'node.conf');
    writeFileSync(conf, `allow_anonymous true\nacl_file ${acl}\n`);
  });
  after(async () => {
    await redis?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('the node cleaning up after a dead node sends a will to a topic its client may publish to, and not one to a topic the ACL denies it', async () => {
    const base = `will-acl-${process.pid}`;
    const survivor = await startNode(redis.url, `${base}-s`, ['-c', conf]);
    const doomed = await startNode(redis.url, `${base}-d`, ['-c', conf]);
    const nodes: CulexProcess[] = [survivor, doomed];
    const peers: Peer[] = [];
    try {
      const watcher = await connectPeer(`mqtt://127.0.0.1:${survivor.port}`, { protocolVersion: 5, clientId: `${base}-w`, username: 'watcher' });
      peers.push(watcher);
      await watcher.client.subscribeAsync('wills/#', { qos: 1 });
      // the watcher's route has reached the doomed node: a message alice may publish arrives
      const probe = await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, { protocolVersion: 5, clientId: `${base}-p`, username: 'alice' });
      peers.push(probe);
      await untilRouted(() => probe.client.publishAsync('wills/alice', 'probe', { qos: 1 }), watcher.inbox);
      const will = (topic: string, payload: string) => ({ topic, payload: Buffer.from(payload), qos: 1 as const, retain: false });
      peers.push(await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, { protocolVersion: 5, clientId: `${base}-allowed`, username: 'alice', will: will('wills/alice', 'alice gone') }));
      peers.push(await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, { protocolVersion: 5, clientId: `${base}-denied`, username: 'alice', will: will('wills/bob', 'posing as bob') }));

      await doomed.stop('SIGKILL');
      for (const peer of peers.slice(1)) peer.client.end(true);
      await survivor.waitForLog(new RegExp(`node ${base}-d is gone; node ${base}-s removed its routes, adopted 0 persistent sessions and handles the wills of its clients \\(2\\)`), 15_000);
      await survivor.waitForLog(new RegExp(`will of client ${base}-denied to wills/bob not sent: the client may not publish to that topic`), 5000);
      const [sent] = await watcher.inbox.take(1, 5000);
      assert.deepEqual([sent!.topic, sent!.payload], ['wills/alice', 'alice gone']);
      assert.equal(await watcher.inbox.nothingWithin(1500), true, 'the denied will is not delivered');
    } finally {
      await endPeers(...peers);
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    }
  });
});
