// Three Culex nodes (culex broker --cluster redis://…) on one real redis-server, with MQTT.js,
// mosquitto_pub and mosquitto_sub spread over them: cross-node delivery with single-node semantics,
// routing only to nodes with matching subscriptions, retained messages, client id takeover, shared
// subscriptions, a SIGKILLed node's wills, a Redis restart, and a node refused without Redis.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CulexProcess } from '../helpers/culex-process.js';
import { connectPeer, endPeers, waitFor, type Peer } from '../helpers/mqttjs.js';
import { runTool, startTool, subscribed } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { needTools, requireTool } from '../helpers/tools.js';
import { findFreePort } from '../helpers/ports.js';
import { clusterStatus, clusterStatusCli, nodeOf, startNode, untilRouted, waitForStatus } from '../helpers/cluster-nodes.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
let redis: RedisServer;
const nodes: CulexProcess[] = [];
const names = ['n1', 'n2', 'n3'];
let counter = 0;
const unique = (name: string): string => `cluster/${name}-${process.pid}-${++counter}`;
const url = (i: number): string => `mqtt://127.0.0.1:${nodes[i]!.port}`;

before(async () => {
  if (!haveRedis) return;
  redis = await startRedis();
  for (const name of names) nodes.push(await startNode(redis.url, name));
});
after(async () => {
  await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
  await redis?.destroy();
});

describe('three nodes on one redis-server', { skip: !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false }, () => {
  test('a PUBLISH on one node reaches subscribers on the others at QoS 0, 1 and 2, with the QoS downgraded to the granted one [MQTT-3.8.4-6]', async () => {
    const base = unique('qos');
    const sub2 = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-s2` });
    const sub3 = await connectPeer(url(2), { protocolVersion: 4, clientId: `${base}-s3` });
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    try {
      await sub2.client.subscribeAsync(`${base}/#`, { qos: 2 });
      await sub3.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub2.inbox);
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub3.inbox);
      sub2.inbox.drain();
      for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(`${base}/q${qos}`, `at ${qos}`, { qos });
      const got2 = await sub2.inbox.take(3, 10_000);
      const got3 = await sub3.inbox.take(3, 10_000);
      assert.deepEqual(got2.map((m) => [m.topic, m.payload, m.packet.qos]), [0, 1, 2].map((q) => [`${base}/q${q}`, `at ${q}`, q]));
      assert.deepEqual(got3.map((m) => [m.topic, m.packet.qos]), [[`${base}/q0`, 0], [`${base}/q1`, 1], [`${base}/q2`, 1]]);
    } finally {
      await endPeers(sub2, sub3, pub);
    }
  });

  test('cross-node delivery keeps user properties, correlation data, subscription identifiers, No Local and the remaining message expiry [MQTT-3.3.2-6] [MQTT-3.3.4-3] [MQTT-3.8.3-3]', async () => {
    const base = unique('props');
    const sub = await connectPeer(url(2), { protocolVersion: 5, clientId: `${base}-s` });
    // the publisher subscribes with No Local on its own node and on the filter other nodes match
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 42 } });
      await pub.client.subscribeAsync(`${base}/#`, { qos: 1, nl: true });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub.inbox);
      await pub.client.publishAsync(`${base}/t`, 'body', {
        qos: 1,
        properties: { userProperties: { a: '1', b: ['2', '3'] }, correlationData: Buffer.from('corr'), responseTopic: `${base}/reply`, contentType: 'text/plain', messageExpiryInterval: 120 },
      });
      const [message] = await sub.inbox.take(1, 10_000);
      const props = message!.packet.properties!;
      assert.deepEqual({ ...props.userProperties }, { a: '1', b: ['2', '3'] });
      assert.equal(props.correlationData?.toString(), 'corr');
      assert.equal(props.responseTopic, `${base}/reply`);
      assert.equal(props.contentType, 'text/plain');
      assert.deepEqual(props.subscriptionIdentifier, 42);
      assert.ok(props.messageExpiryInterval! <= 120 && props.messageExpiryInterval! >= 100, `expiry ${props.messageExpiryInterval}`);
      assert.ok(await pub.inbox.nothingWithin(500), 'No Local: the publisher got its own message');
    } finally {
      await endPeers(sub, pub);
    }
  });

  test('per-publisher, per-topic order is kept across nodes (500 QoS 1 messages)', async () => {
    const base = unique('order');
    const sub = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-s` });
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub.inbox);
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) sends.push(pub.client.publishAsync(`${base}/t`, String(i), { qos: 1 }));
      await Promise.all(sends);
      const got = await sub.inbox.take(500, 30_000);
      assert.deepEqual(got.map((m) => Number(m.payload)), Array.from({ length: 500 }, (_, i) => i));
    } finally {
      await endPeers(sub, pub);
    }
  });

  test('mosquitto_pub on one node reaches mosquitto_sub on another, MQTT 3.1.1 and 5.0', async (t) => {
    if (!needTools(t, ['mosquitto_pub', 'mosquitto_sub'])) return;
    for (const version of ['mqttv311', 'mqttv5']) {
      const base = unique(`mosq-${version}`);
      const sub = startTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(nodes[2]!.port), '-V', version, '-q', '2', '-t', `${base}/#`, '-W', '90', '-F', '%t %q %p', '-d']);
      await sub.waitForStdout(subscribed);
      // the first probe that arrives proves the route reached node 1; the second is the message under test
      let probes = 0;
      for (let i = 0; i < 100 && !/probe/.test(sub.stdout); i++) {
        probes++;
        await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(nodes[0]!.port), '-V', version, '-t', `${base}/probe`, '-m', 'p']);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(probes < 100, 'route never propagated');
      const pub = await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(nodes[0]!.port), '-V', version, '-q', '2', '-t', `${base}/x`, '-m', 'from node 1']);
      assert.equal(pub.code, 0, pub.stderr);
      await sub.waitForStdout(new RegExp(`${base}/x 2 from node 1`), 60_000);
      sub.kill('SIGTERM');
      await sub.result();
    }
  });

  test('a message crosses only to nodes with a matching subscription: a node without one receives nothing', async () => {
    const base = unique('only');
    const sub = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-s` });
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    try {
      await sub.client.subscribeAsync(`${base}/#`, { qos: 0 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub.inbox);
      // counters as the nodes report them on their heartbeats
      const before = await waitForStatus(redis.url, (s) => s.nodes.length === 3, 'three nodes');
      for (let i = 0; i < 200; i++) void pub.client.publishAsync(`${base}/t`, String(i));
      await sub.inbox.take(200, 20_000);
      const later = await waitForStatus(redis.url, (s) => nodeOf(s, 'n2').receivedMessages >= nodeOf(before, 'n2').receivedMessages + 200, 'n2 receiving 200 more');
      assert.equal(nodeOf(later, 'n3').receivedMessages, nodeOf(before, 'n3').receivedMessages, 'n3 has no subscriber and must receive nothing');
      // batched: fewer Redis commands than messages
      assert.ok(nodeOf(later, 'n1').forwardedBatches - nodeOf(before, 'n1').forwardedBatches < 200, 'forwarding is batched per event-loop turn');
    } finally {
      await endPeers(sub, pub);
    }
  });

  test('retained messages are cluster-wide: a subscriber on another node gets the one published elsewhere [MQTT-3.3.1-6]', async () => {
    const base = unique('retained');
    const pub = await connectPeer(url(0), { protocolVersion: 4, clientId: `${base}-p` });
    try {
      await pub.client.publishAsync(`${base}/state`, 'on', { qos: 1, retain: true });
      let got: string | undefined;
      for (let i = 0; i < 40 && got === undefined; i++) {
        const sub = await connectPeer(url(2), { protocolVersion: 4, clientId: `${base}-s${i}` });
        await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
        if (!(await sub.inbox.nothingWithin(150))) {
          const [message] = sub.inbox.drain();
          assert.equal(message!.packet.retain, true);
          got = message!.payload;
        }
        await endPeers(sub);
      }
      assert.equal(got, 'on');
      const status = await clusterStatus(redis.url);
      assert.ok(status.retained >= 1);
    } finally {
      await endPeers(pub);
    }
  });

  test('a client id connecting on another node takes the session over: the old connection gets DISCONNECT 0x8E and its will is sent [MQTT-3.1.4-3]', async () => {
    const base = unique('takeover');
    const watcher = await connectPeer(url(2), { protocolVersion: 5, clientId: `${base}-w` });
    const first = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-c`, will: { topic: `${base}/will`, payload: Buffer.from('gone'), qos: 1, retain: false } });
    try {
      await watcher.client.subscribeAsync(`${base}/will`, { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 500)); // the watcher's route reaches node 1
      const disconnected = waitFor(first.client, 'disconnect', 15_000);
      const second = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-c`, clean: true });
      const [packet] = await disconnected;
      assert.equal(packet.reasonCode, 0x8e);
      const [will] = await watcher.inbox.take(1, 10_000);
      assert.equal(will!.payload, 'gone');
      assert.ok(second.client.connected);
      await endPeers(second);
    } finally {
      first.client.end(true);
      await endPeers(watcher);
    }
  });

  test('a shared subscription with members on two nodes gets one delivery per message cluster-wide (MQTT 5.0 §4.8.2)', async () => {
    const base = unique('shared');
    const members: Peer[] = [];
    const pub = await connectPeer(url(2), { protocolVersion: 5, clientId: `${base}-p` });
    const plain = await connectPeer(url(2), { protocolVersion: 5, clientId: `${base}-plain` });
    try {
      for (const i of [0, 1]) {
        const member = await connectPeer(url(i), { protocolVersion: 5, clientId: `${base}-m${i}` });
        await member.client.subscribeAsync(`$share/g/${base}/#`, { qos: 1 });
        members.push(member);
      }
      await plain.client.subscribeAsync(`${base}/#`, { qos: 1 });
      // wait until node 3 knows both members' nodes: probes reach each member at least once
      const seen = new Set<number>();
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        await pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        members.forEach((m, at) => m.inbox.size > 0 && seen.add(at));
      }
      assert.equal(seen.size, 2, 'both member nodes are known to the publishing node');
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const m of members) m.inbox.drain();
      plain.inbox.drain();
      for (let i = 0; i < 40; i++) await pub.client.publishAsync(`${base}/t`, String(i), { qos: 1 });
      await plain.inbox.take(40, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const got = members.map((m) => m.inbox.drain().map((r) => Number(r.payload)));
      assert.deepEqual([...got[0]!, ...got[1]!].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'each message exactly once in the group');
      assert.ok(got[0]!.length > 0 && got[1]!.length > 0, 'both nodes took a share');
    } finally {
      await endPeers(pub, plain, ...members);
    }
  });

  test('$SYS/broker/cluster/... is per node: each node publishes its own id and cluster counters, and $SYS is never forwarded', async () => {
    const peer = await connectPeer(url(1), { protocolVersion: 5, clientId: unique('sys') });
    try {
      await peer.client.subscribeAsync('$SYS/broker/cluster/#', { qos: 0 });
      await peer.inbox.nothingWithin(1000);
      const topics = new Map(peer.inbox.drain().map((m) => [m.topic, m.payload]));
      assert.equal(topics.get('$SYS/broker/cluster/node'), 'n2');
      assert.equal(topics.get('$SYS/broker/cluster/redis/connected'), '1');
      for (const name of ['nodes', 'routes', 'messages/forwarded', 'messages/received', 'messages/dropped', 'redis/outages']) {
        assert.match(topics.get(`$SYS/broker/cluster/${name}`) ?? '', /^\d+$/, name);
      }
    } finally {
      await endPeers(peer);
    }
  });

  test('culex cluster status lists the nodes and their clients', async () => {
    const base = unique('status');
    const peer = await connectPeer(url(1), { protocolVersion: 4, clientId: `${base}-c` });
    try {
      const status = await waitForStatus(redis.url, (s) => s.nodes.length === 3 && nodeOf(s, 'n2').clients >= 1, 'a client on n2');
      assert.deepEqual(status.nodes.map((n) => n.id), ['n1', 'n2', 'n3']);
      assert.ok(status.nodes.every((n) => n.alive));
      const text = await clusterStatusCli(redis.url, false);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^3 node\(s\)/);
      assert.match(text.stdout, /\nn2\s+alive\s+[1-9]/);
    } finally {
      await endPeers(peer);
    }
  });
});

describe('failures', { skip: !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed' : false }, () => {
  test('a node that cannot reach Redis at start-up says so and exits non-zero', async () => {
    const port = await findFreePort();
    const cli = fileURLToPath(new URL('../../dist/cli/culex.js', import.meta.url));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, 'broker', '-p', String(port), '--cluster', `redis://127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${port} for the cluster`));
  });

  test('a SIGKILLed node: another node publishes its clients\' wills (after their will delay) and drops its routes [MQTT-3.1.3-9]', async () => {
    const base = unique('dead');
    const doomed = await startNode(redis.url, `${base}-node`);
    const watcher = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-w` });
    try {
      await watcher.client.subscribeAsync(`${base}/will/#`, { qos: 1 });
      const victim = await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, { protocolVersion: 5, clientId: `${base}-v`, will: { topic: `${base}/will/now`, payload: Buffer.from('died'), qos: 1, retain: false } });
      const delayed = await connectPeer(`mqtt://127.0.0.1:${doomed.port}`, {
        protocolVersion: 5,
        clientId: `${base}-d`,
        properties: { sessionExpiryInterval: 60 },
        will: { topic: `${base}/will/delayed`, payload: Buffer.from('later'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
      });
      await waitForStatus(redis.url, (s) => s.nodes.some((n) => n.id === `${base}-node` && n.clients === 2), 'the doomed node with its two clients');
      const killedAt = Date.now();
      await doomed.stop('SIGKILL');
      victim.client.end(true);
      delayed.client.end(true);
      const [first] = await watcher.inbox.take(1, 20_000);
      assert.equal(first!.topic, `${base}/will/now`);
      assert.equal(first!.payload, 'died');
      const [second] = await watcher.inbox.take(1, 20_000);
      assert.equal(second!.topic, `${base}/will/delayed`);
      assert.ok(Date.now() - killedAt >= 2000, 'the will delay was honoured');
      const status = await waitForStatus(redis.url, (s) => !s.nodes.some((n) => n.id === `${base}-node`), 'the dead node gone');
      assert.equal(status.nodes.length, 3);
    } finally {
      await endPeers(watcher);
    }
  });

  test('a route announced while the other nodes\' subscriber connections to Redis were cut still reaches them (read back at a heartbeat)', async () => {
    const base = unique('missed');
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    const sub = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-s` });
    try {
      // every pub/sub connection is cut: the route change below is published while nobody listens;
      // the command connections stay up, so no node sees an outage and nothing re-synchronises
      const killed = await runTool('redis-cli', ['-p', String(redis.port), 'client', 'kill', 'type', 'pubsub']);
      assert.ok(Number(killed.stdout.trim()) >= 3, `pub/sub connections killed: ${killed.stdout}`);
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), sub.inbox);
      await pub.client.publishAsync(`${base}/t`, 'after', { qos: 1 });
      const [message] = await sub.inbox.take(1, 10_000);
      assert.equal(message!.payload, 'after');
    } finally {
      await endPeers(pub, sub);
    }
  });

  test('Redis restarted during traffic: every node keeps serving its own clients, then cross-node delivery resumes', async () => {
    const base = unique('outage');
    const local = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-l` });
    const remote = await connectPeer(url(1), { protocolVersion: 5, clientId: `${base}-r` });
    const pub = await connectPeer(url(0), { protocolVersion: 5, clientId: `${base}-p` });
    try {
      await local.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await remote.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p'), remote.inbox);
      local.inbox.drain();
      let sent = 0;
      const traffic = setInterval(() => void pub.client.publishAsync(`${base}/t`, String(sent++), { qos: 1 }).catch(() => undefined), 20);
      try {
        await redis.stop();
        await nodes[0]!.waitForLog(/Cluster: connection to Redis lost/, 15_000);
        const during = sent;
        await new Promise((resolve) => setTimeout(resolve, 500));
        // the local subscriber is served throughout
        const received = local.inbox.drain().map((m) => Number(m.payload));
        assert.ok(received.some((n) => n >= during), 'local delivery continued while Redis was down');
        await redis.start();
        for (const node of nodes) await node.waitForLog(/Cluster: Redis is back; node \S+ re-synchronised/, 30_000);
      } finally {
        clearInterval(traffic);
      }
      remote.inbox.drain();
      await untilRouted(() => pub.client.publishAsync(`${base}/after`, 'again'), remote.inbox);
      await pub.client.publishAsync(`${base}/final`, 'final', { qos: 1 });
      const [message] = await remote.inbox.take(1, 10_000);
      assert.equal(message!.payload, 'final');
      const status = await waitForStatus(redis.url, (s) => s.nodes.length === 3 && s.nodes.every((n) => n.outages >= 1), 'outages counted');
      assert.ok(status.nodes.every((n) => n.alive));
    } finally {
      await endPeers(local, remote, pub);
    }
  });
});
