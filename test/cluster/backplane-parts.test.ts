// The cluster's pure parts: the cluster URL, the frames nodes exchange, the route table with its
// shared groups and sequence numbers, and the `cluster` configuration option.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseClusterUrl } from '../../src/cluster/cluster-url.js';
import { FrameKind, decodeFrames, decodeWill, encodeMessageFrame, encodeTakeoverFrame, encodeWill, withWillOwner, type Frame } from '../../src/cluster/frame.js';
import { ClusterGroup, LocalRoutes, RouteTable } from '../../src/cluster/route-table.js';
import { Message } from '../../src/broker/message.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';

test('cluster URLs: one server, a Redis Cluster by seed nodes, credentials, and clear refusals', () => {
  assert.deepEqual(parseClusterUrl('redis://127.0.0.1:6380'), { kind: 'server', endpoints: [{ host: '127.0.0.1', port: 6380 }], username: undefined, password: undefined, db: 0, tls: false });
  const cluster = parseClusterUrl('redis-cluster://a:7000,b:7001,[::1]:7002');
  assert.ok(typeof cluster !== 'string');
  assert.equal(cluster.kind, 'cluster');
  assert.deepEqual(cluster.endpoints, [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }, { host: '::1', port: 7002 }]);
  const secured = parseClusterUrl('rediss://user:p%40ss@host/2');
  assert.ok(typeof secured !== 'string');
  assert.deepEqual([secured.username, secured.password, secured.db, secured.tls, secured.endpoints[0]!.port], ['user', 'p@ss', 2, true, 6379]);
  assert.match(String(parseClusterUrl('http://x:1')), /invalid cluster URL/);
  assert.match(String(parseClusterUrl('redis://a:1,b:2')), /several hosts need redis-cluster/);
  assert.match(String(parseClusterUrl('redis://a:99999')), /bad port/);
});

test('a message frame carries topic, payload, QoS, retain, origin, times, properties and shared groups', () => {
  const message = new Message('a/b', Buffer.from('payload'), 2, true, { userProperties: [['k', 'v1'], ['k', 'v2'], ['z', '']], correlationData: Buffer.from([0, 1, 2]), messageExpiryInterval: 30 }, 1_700_000_030_000, 'client-1', 1_700_000_000_000);
  const batch = Buffer.concat([
    encodeMessageFrame(message, true, undefined),
    encodeTakeoverFrame('client-2', true),
    encodeMessageFrame(new Message('c', Buffer.alloc(0), 0, false, undefined, 0, undefined), false, [{ group: 'g', topicFilter: 'c/#' }]),
  ]);
  const frames: Frame[] = [];
  assert.equal(decodeFrames(batch, (frame) => frames.push(frame)), undefined);
  assert.equal(frames.length, 3);
  const [first, second, third] = frames;
  assert.ok(first!.kind === FrameKind.message && second!.kind === FrameKind.takeover && third!.kind === FrameKind.message);
  const m = first.message;
  assert.deepEqual([m.topic, m.payload.toString(), m.qos, m.retain, m.origin, m.receivedAt, m.expiresAt, first.plain], ['a/b', 'payload', 2, true, 'client-1', 1_700_000_000_000, 1_700_000_030_000, true]);
  assert.deepEqual(m.properties?.userProperties, [['k', 'v1'], ['k', 'v2'], ['z', '']], 'user properties keep their order and repeats');
  assert.deepEqual(m.properties?.correlationData, Buffer.from([0, 1, 2]));
  assert.deepEqual([second.clientId, second.clean], ['client-2', true]);
  assert.deepEqual([third.message.origin, third.plain, third.groups], [undefined, false, [{ group: 'g', topicFilter: 'c/#' }]]);
});

test('a message frame\'s id (origin node, routing sequence) is the decoded message\'s cluster id, kept with the session entries made from it', () => {
  const message = new Message('a/b', Buffer.from('x'), 1, false, undefined, 0, 'client-1');
  const frames: Frame[] = [];
  decodeFrames(Buffer.concat([encodeMessageFrame(message, true, undefined, { origin: 'node-a', seq: 7 }), encodeMessageFrame(message, true, undefined)]), (frame) => frames.push(frame));
  const [withId, without] = frames;
  assert.ok(withId?.kind === FrameKind.message && without?.kind === FrameKind.message);
  assert.deepEqual(withId.message.clusterId, { origin: 'node-a', seq: 7 });
  assert.equal(without.message.clusterId, undefined);
});

test('a damaged batch is reported, never thrown', () => {
  const good = encodeMessageFrame(new Message('t', Buffer.from('x'), 0, false, undefined, 0, undefined), true, undefined);
  assert.match(String(decodeFrames(good.subarray(0, good.length - 1), () => {})), /truncated/);
  const bad = Buffer.from(good);
  bad[4] = 9; // unknown kind
  assert.match(String(decodeFrames(bad, () => {})), /unknown frame kind 9/);
  assert.match(String(decodeFrames(Buffer.from([0, 0]), () => {})), /truncated frame length/);
});

test('a will kept for another node keeps its delay and its client\'s identity, and drops the Will Delay Interval property', () => {
  const owner = { username: 'alice', listener: 'mqtt:1883', remoteAddress: '127.0.0.1:5000' };
  const stored = encodeWill('c1', { topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: true, properties: { willDelayInterval: 9, contentType: 'x' } }, 5, owner);
  const will = decodeWill(stored);
  assert.ok(will !== undefined);
  assert.deepEqual([will.delay, will.message.topic, will.message.payload.toString(), will.message.qos, will.message.retain, will.message.origin], [5, 'w', 'bye', 1, true, 'c1']);
  assert.deepEqual(will.message.properties, { contentType: 'x' });
  assert.deepEqual(will.owner, owner);
  const anonymous = decodeWill(encodeWill('c2', { topic: 'w', payload: Buffer.alloc(0), qos: 0, retain: false }, 0, { ...owner, username: undefined }));
  assert.deepEqual(anonymous?.owner, { ...owner, username: undefined });
  const renamed = decodeWill(withWillOwner(stored, { ...owner, username: 'bob' }));
  assert.deepEqual([renamed?.delay, renamed?.message.topic, renamed?.message.payload.toString(), renamed?.owner?.username], [5, 'w', 'bye', 'bob'], 'a re-authenticated client\'s will keeps its message under its new username');
  assert.equal(decodeWill(Buffer.from([1, 2])), undefined);
});

test('a will stored by an older version (delay and message frame, no owner frame) is still read, without an owner', () => {
  const message = new Message('w', Buffer.from('bye'), 1, false, undefined, 0, 'c1', 0, 0);
  const frame = encodeMessageFrame(message, true, undefined);
  const old = Buffer.concat([Buffer.from([0, 0, 0, 7]), frame]);
  const will = decodeWill(old);
  assert.ok(will !== undefined);
  assert.deepEqual([will.delay, will.message.topic, will.message.origin, will.owner], [7, 'w', 'c1', undefined]);
});

test('the route table matches filters to nodes, groups shared subscriptions, and notices a missed update', () => {
  const table = new RouteTable();
  table.replaceNode('a', ['s/+', '$share/g/s/#'], 1);
  table.replaceNode('b', ['s/1', '$share/g/s/#'], 4);
  const routes = table.index.match('s/1');
  assert.deepEqual(routes.filter((r) => typeof r === 'string').sort(), ['a', 'b']);
  const group = routes.find((r): r is ClusterGroup => r instanceof ClusterGroup)!;
  assert.deepEqual([group.group, group.topicFilter, [...group.nodes].sort()], ['g', 's/#', ['a', 'b']]);
  const picks = [group.pick(), group.pick(), group.pick()];
  assert.deepEqual(picks, [group.nodes[0], group.nodes[1], group.nodes[0]], 'round-robin over the member nodes');
  assert.equal(table.applyUpdate('b', 5, [], ['s/1']), true);
  assert.deepEqual(table.index.match('s/1').filter((r) => typeof r === 'string'), ['a']);
  assert.equal(table.applyUpdate('b', 5, ['s/9'], []), true, 'an old update is ignored');
  assert.equal(table.index.match('s/9').filter((r) => r === 'b').length, 0);
  assert.equal(table.applyUpdate('b', 7, ['s/9'], []), false, 'a gap asks for a full read');
  table.removeNode('a');
  table.removeNode('b');
  assert.equal(table.index.match('s/1').length, 0);
  assert.equal(table.index.size, 0);
});

test('local routes are announced on the first subscriber and withdrawn after the last, as net changes per turn', () => {
  const local = new LocalRoutes();
  local.added('x/#');
  local.added('x/#');
  local.added(LocalRoutes.entry('y', 'g'));
  assert.deepEqual(local.takeChanges(), { added: ['x/#', '$share/g/y'], removed: [] });
  local.removed('x/#');
  assert.deepEqual(local.takeChanges(), { added: [], removed: [] });
  local.removed('x/#');
  local.added('x/#'); // replaced in the same turn: nothing to announce
  assert.deepEqual(local.takeChanges(), { added: [], removed: [] });
  local.removed('x/#');
  assert.deepEqual(local.takeChanges(), { added: [], removed: ['x/#'] });
  assert.deepEqual(local.all(), ['$share/g/y']);
});

test('config: `cluster URL` and `cluster_node_id` (Culex-only); a bad URL is an error with file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-cluster-conf-'));
  const good = join(dir, 'good.conf');
  writeFileSync(good, 'cluster redis-cluster://127.0.0.1:7000,127.0.0.1:7001\ncluster_node_id edge-1\n');
  const config = readMosquittoConf(good);
  assert.ok(!(config instanceof ConfigError));
  assert.deepEqual([config.cluster, config.clusterNodeId], ['redis-cluster://127.0.0.1:7000,127.0.0.1:7001', 'edge-1']);
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, '\ncluster http://nowhere\n');
  const error = readMosquittoConf(bad);
  assert.ok(error instanceof ConfigError);
  assert.match(error.lines().join('\n'), /Invalid cluster URL 'http:\/\/nowhere'[^\n]*\nError found at .*bad\.conf:2\./);
});
