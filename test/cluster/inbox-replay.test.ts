// A dead node's inbox replayed into the persistent sessions adopted from it (docs/CLUSTER.md,
// "Sessions in Redis"): a message the session already holds is not added again, and messages that
// reach the adopted session live during the replay come after the replayed ones. The races these
// guard against last an instant, so each test prepares Redis as the race leaves it: the holding
// node is paused (SIGSTOP) while a message is published, its inbox batch is read and, once the node
// has stored the message, written back (the node "died between its two transactions"), or kept
// aside and written back during the adoption (a batch "on its way"). Real redis-server (and a
// three-primary Redis Cluster) and `culex broker --cluster --persistence-location` processes,
// driven by MQTT.js; the nodes' reaper lock is held by hand while a node is paused. The same for a
// hand-over's new node dying while it buffers what the old node re-forwarded (the old node's part
// played by hand): what it buffered reaches the client through a third node. And for a hand-over's
// old node dying as it re-forwards a batch from its inbox, its write to the new node's inbox not
// applied (the new node played by hand, its inbox made to refuse the write): the batch's copy
// stays in the old node's inbox, rewritten to the re-forwarded frame, and reaches the client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Message } from '../../src/broker/message.js';
import { parseClusterUrl } from '../../src/cluster/cluster-url.js';
import { FrameKind, decodeFrames, encodeHandOverFrame, encodeInboxFrame, encodeMessageFrame } from '../../src/cluster/frame.js';
import { clusterKeys as keys } from '../../src/cluster/keys.js';
import { redisClient, type Commands } from '../../src/cluster/redis-link.js';
import type { CulexProcess } from '../helpers/culex-process.js';
import { SessionNodes, untilRouted } from '../helpers/cluster-nodes.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { requireTool } from '../helpers/tools.js';

const haveRedis = requireTool('redis-server') && requireTool('redis-cli');
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server not installed: apt-get install redis-server' : false;
let counter = 0;
const unique = (name: string): string => `replay-${name}-${process.pid}-${++counter}`;
const url = (node: CulexProcess): string => `mqtt://127.0.0.1:${node.port}`;
const persistent = (clientId: string): object => ({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
const sessionOut = (clientId: string): string => `culex:{s:${clientId}}:out`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function openRedis(redisUrl: string): Promise<Commands> {
  const parsed = parseClusterUrl(redisUrl);
  if (typeof parsed === 'string') throw new Error(parsed);
  const client = redisClient(parsed);
  await client.connect();
  return client;
}

/** Polls until check holds (bounded: 15 s). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(50);
  }
}

/** Every payload that arrives until nothing more comes for quietMs, in arrival order. */
async function receiveUntilQuiet(peer: Peer, quietMs: number, timeoutMs = 30_000): Promise<string[]> {
  const got: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      got.push((await peer.inbox.next(quietMs)).payload.toString());
    } catch {
      break;
    }
  }
  return got;
}

/**
 * A node of its own holding an offline persistent subscriber (QoS `qos`) to `${base}/#`, with a
 * publisher on env.list[0]. The holder's reaper lock is taken by hand (released by the caller), so
 * no node cleans up after it while the test pauses or kills it.
 */
async function offlineSubscriber(env: SessionNodes, redis: Commands, base: string, qos: 1 | 2): Promise<{ holder: CulexProcess; holderId: string; pub: Peer; id: string; lock: string }> {
  const holderId = `${base}-h`;
  const id = `${base}-sub`;
  const holder = await env.start(holderId);
  const sub = await connectPeer(url(holder), persistent(id));
  const pub = await connectPeer(url(env.list[0]!), { protocolVersion: 5, clientId: `${base}-pub` });
  await sub.client.subscribeAsync(`${base}/#`, { qos });
  await untilRouted(() => pub.client.publishAsync(`${base}/probe`, 'p', { qos: 1 }), sub.inbox);
  await endPeers(sub);
  const lock = keys.reaper(holderId);
  await redis.set(lock, 'test', 'PX', 60_000);
  return { holder, holderId, pub, id, lock };
}

/**
 * The holder is paused while `payload` is published to it (the publisher's acknowledgement comes
 * once the batch is in its inbox); the batch is read, the holder resumed and left to store the
 * message and delete the batch; then the batch is written back, as a node dying between the two
 * leaves it (on a Redis Cluster they are two transactions, in two slots).
 */
async function storedAndStillInInbox(redis: Commands, holder: CulexProcess, holderId: string, pub: Peer, id: string, topic: string, payload: string): Promise<void> {
  const inbox = keys.inbox(holderId);
  process.kill(holder.pid, 'SIGSTOP');
  let batches: Record<string, Buffer>;
  try {
    await pub.client.publishAsync(topic, payload, { qos: 2 });
    batches = await redis.hgetallBuffer(inbox);
  } finally {
    process.kill(holder.pid, 'SIGCONT');
  }
  assert.equal(Object.keys(batches).length, 1, 'the message went through the holder\'s inbox');
  await until(async () => (await redis.hlen(inbox)) === 0 && (await redis.hlen(sessionOut(id))) === 1, 'the holder stored the message and deleted its inbox copy');
  await redis.hset(inbox, batches);
}

async function exactlyOnceAfterDeath(env: SessionNodes, redis: Commands): Promise<void> {
  const base = unique('dead');
  const { holder, holderId, pub, id, lock } = await offlineSubscriber(env, redis, base, 2);
  let back: Peer | undefined;
  try {
    await storedAndStillInInbox(redis, holder, holderId, pub, id, `${base}/t`, 'once');
    await holder.stop('SIGKILL');
    await redis.del(lock); // another node now cleans up: adopts the session and replays the inbox
    back = await connectPeer(url(env.list[1]!), persistent(id), 30_000);
    assert.equal(back.connack.sessionPresent, true, 'the session was adopted');
    const got = await receiveUntilQuiet(back, 2000);
    assert.deepEqual(got, ['once'], `${[...env.list, holder].map((n) => n.log()).join('\n')}`);
  } finally {
    await endPeers(pub, back);
    await holder.stop('SIGKILL');
    await redis.del(lock);
  }
}

/**
 * A live hand-over to node B, B SIGKILLed while it buffers the frames the old node re-forwarded to
 * the arriving session (hand-over-window.ts), before it has installed the session: B's hand-over
 * request reaches the old node A, which the test has SIGKILLed while keeping its alive key and
 * reaper lock, so B waits for A's answer meanwhile. The test plays A's part after its cut: five
 * QoS 1 frames targeted at the session written to B's inbox and published on B's data channel, as
 * A's forwarder does, then (once B is dead) A's release of the client id. The client resumes
 * through a third node, after the clean-up after B, or before it (then the cleaner forwards the
 * frames to that node). Each batch must still be in B's inbox when B dies.
 */
async function bufferedOnArrivingNode(env: SessionNodes, redis: Commands, redisUrl: string, resumeFirst: boolean): Promise<void> {
  const base = unique(resumeFirst ? 'arriving-back' : 'arriving');
  const topic = `${base}/t`;
  const { holder, holderId, pub, id, lock } = await offlineSubscriber(env, redis, base, 1);
  const takerId = `${base}-b`;
  const taker = await env.start(takerId);
  const takerLock = keys.reaper(takerId);
  const takerInbox = keys.inbox(takerId);
  const watcher = await openRedis(redisUrl);
  let connecting: Promise<Peer | undefined> | undefined;
  let back: Peer | undefined;
  const received = async (): Promise<number> => {
    const status = await redis.hget(keys.nodes, takerId);
    return status === null ? 0 : (JSON.parse(status) as { receivedMessages: number }).receivedMessages;
  };
  try {
    await holder.stop('SIGKILL');
    await redis.set(keys.alive(holderId), 'test', 'PX', 60_000); // alive, only slow: B waits for its answer
    const asked = new Promise<void>((resolve) => watcher.on('messageBuffer', () => resolve()));
    await watcher.subscribe(keys.data(holderId));
    connecting = connectPeer(url(taker), persistent(id), 30_000).catch(() => undefined);
    await asked; // B's hand-over request: B now buffers what is targeted at the session
    const before = await received();
    for (let i = 0; i < 5; i++) {
      const field = `${holderId}:${1000 + i}`;
      const message = new Message(topic, Buffer.from(String(i)), 1, false, undefined, 0, pub.client.options.clientId);
      const frames = [encodeInboxFrame(field), encodeMessageFrame(message, true, undefined, { origin: holderId, seq: 1000 + i }, id)];
      // the first batch also has a message routed at once (to no subscriber here): the inbox keeps only the buffered frame
      if (i === 0) frames.splice(1, 0, encodeMessageFrame(new Message(`${base}/other`, Buffer.from('x'), 1, false, undefined, 0, undefined), true, undefined, { origin: holderId, seq: 999 }));
      const batch = Buffer.concat(frames);
      await redis.hset(takerInbox, field, batch);
      await redis.publish(keys.data(takerId), batch);
    }
    await until(async () => (await received()) >= before + 6, 'the taking node received the six frames');
    assert.equal(await redis.hlen(takerInbox), 5, 'the buffered batches are still in the inbox of the taking node');
    const kept: (string | undefined)[] = [];
    decodeFrames((await redis.hgetBuffer(takerInbox, `${holderId}:1000`))!, (frame) => frame.kind === FrameKind.message && kept.push(frame.target));
    assert.deepEqual(kept, [id], 'the first batch keeps its buffered frame only');
    if (resumeFirst) await redis.set(takerLock, 'test', 'PX', 60_000);
    await taker.stop('SIGKILL');
    // A after its cut: the client id and its session set let go, then A cleaned up after
    await redis.hdel(keys.clients, id);
    await redis.srem(keys.sessions(holderId), id);
    await redis.del(keys.alive(holderId), lock);
    if (resumeFirst) {
      back = await connectPeer(url(env.list[1]!), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was read from Redis');
      await redis.del(takerLock); // now the clean-up after B: it forwards the frames to the session's node
    }
    await until(async () => (await redis.hexists(keys.nodes, takerId)) === 0, 'a node cleaned up after the taking node');
    if (back === undefined) {
      back = await connectPeer(url(env.list[1]!), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was adopted');
    }
    const got = await receiveUntilQuiet(back, 2000);
    assert.deepEqual(got, ['0', '1', '2', '3', '4'], `${[...env.list, holder, taker].map((n) => n.log()).join('\n')}`);
  } finally {
    watcher.disconnect();
    await endPeers(pub, back, await connecting);
    await holder.stop('SIGKILL');
    await taker.stop('SIGKILL');
    await redis.del(keys.alive(holderId), lock, takerLock);
  }
}

/** The targets of the message frames of a batch, in order (null for an untargeted frame); undefined without the batch. */
function targetsOf(batch: Buffer | null): (string | null)[] | undefined {
  if (batch === null) return undefined;
  const targets: (string | null)[] = [];
  decodeFrames(batch, (frame) => frame.kind === FrameKind.message && targets.push(frame.target ?? null));
  return targets;
}

/**
 * A hand-over's old node A re-forwards a QoS 1 message from a batch of its inbox to the new node B
 * (hand-over-window.ts), and dies before Redis has applied that write (on the forwarder's
 * connection) while its deletion of the batch's inbox copy (on the store's) could already be
 * applied. B is played by hand: its hand-over request sent on A's data channel, its inbox a string
 * so that A's write to it fails, as a write still in A's socket buffer when it dies never lands.
 * The batch's copy must stay in A's inbox, as the frame targeted at the session; A is SIGKILLed,
 * the node cleaning up after it adopts the session and the client resuming through another node
 * gets the message.
 */
async function reforwardedByDyingOldNode(env: SessionNodes, redis: Commands, redisUrl: string): Promise<void> {
  const base = unique('reforward');
  const { holder, holderId, pub, id, lock } = await offlineSubscriber(env, redis, base, 1);
  const takerId = `${base}-b`;
  const takerInbox = keys.inbox(takerId);
  const inbox = keys.inbox(holderId);
  const watcher = await openRedis(redisUrl);
  let back: Peer | undefined;
  const received = async (): Promise<number> => {
    const status = await redis.hget(keys.nodes, holderId);
    return status === null ? 0 : (JSON.parse(status) as { receivedMessages: number }).receivedMessages;
  };
  try {
    await redis.set(takerInbox, 'not a hash', 'PX', 60_000);
    const answered = new Promise<void>((resolve) => watcher.on('messageBuffer', (_channel: Buffer, data: Buffer) => decodeFrames(data, (frame) => frame.kind === FrameKind.handedOver && resolve())));
    await watcher.subscribe(keys.data(takerId));
    await redis.publish(keys.data(holderId), encodeHandOverFrame(id, false, takerId));
    await answered; // A let the session go: it keeps a tombstone and re-forwards what matches it to B
    const before = await received();
    const field = `${base}-p:1`;
    const message = new Message(`${base}/t`, Buffer.from('kept'), 1, false, undefined, 0, pub.client.options.clientId);
    const batch = Buffer.concat([encodeInboxFrame(field), encodeMessageFrame(message, true, undefined, { origin: `${base}-p`, seq: 1 })]);
    await redis.hset(inbox, field, batch);
    await redis.publish(keys.data(holderId), batch);
    await until(async () => (await received()) > before, 'the old node received the batch');
    await sleep(500); // its commit and the failed forward are long answered
    assert.deepEqual(targetsOf(await redis.hgetBuffer(inbox, field)), [id], 'the batch\'s copy holds the re-forwarded frame, targeted at the session');
    await holder.stop('SIGKILL');
    await redis.del(takerInbox, lock); // now a node cleans up after A
    await until(async () => (await redis.hexists(keys.nodes, holderId)) === 0, 'a node cleaned up after the old node');
    back = await connectPeer(url(env.list[1]!), persistent(id), 30_000);
    assert.equal(back.connack.sessionPresent, true, 'the session was adopted');
    const got = await receiveUntilQuiet(back, 2000);
    assert.deepEqual(got, ['kept'], `${[...env.list, holder].map((n) => n.log()).join('\n')}`);
  } finally {
    watcher.disconnect();
    await endPeers(pub, back);
    await holder.stop('SIGKILL');
    await redis.del(takerInbox, lock);
  }
}

describe('a dead node\'s inbox replayed into its adopted sessions, one redis-server', { skip }, () => {
  let server: RedisServer;
  let redis: Commands;
  let env: SessionNodes;
  before(async () => {
    server = await startRedis();
    redis = await openRedis(server.url);
    env = new SessionNodes(server.url);
    await env.startThree('ir');
  });
  after(async () => {
    await env?.stop();
    redis?.disconnect();
    await server?.destroy();
  });

  test('a QoS 2 message the dead node stored in the session but whose inbox copy it had not deleted yet is delivered once to the client resuming through another node [MQTT-4.3.3-10]', () => exactlyOnceAfterDeath(env, redis));

  test('a node restarted with its id adopts its own previous session, which holds a QoS 2 message its inbox still has: the message is delivered once [MQTT-4.3.3-10]', async () => {
    const base = unique('own');
    const { holder, holderId, pub, id, lock } = await offlineSubscriber(env, redis, base, 2);
    let again: CulexProcess | undefined;
    let back: Peer | undefined;
    try {
      await storedAndStillInInbox(redis, holder, holderId, pub, id, `${base}/t`, 'once');
      await holder.stop('SIGKILL');
      // out of the status hash, no other node cleans up after it: its next run does, as it joins
      await redis.hdel(keys.nodes, holderId);
      await redis.del(lock);
      await until(async () => (await redis.exists(keys.alive(holderId))) === 0, 'the killed node\'s alive key expired');
      again = await env.start(holderId);
      assert.match(again.log(), /found its previous run not cleaned up after; it adopted 1 of its persistent sessions/);
      back = await connectPeer(url(again), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was adopted by the restarted node');
      const got = await receiveUntilQuiet(back, 2000);
      assert.deepEqual(got, ['once'], `${[...env.list, holder, again].map((n) => n.log()).join('\n')}`);
    } finally {
      await endPeers(pub, back);
      await holder.stop('SIGKILL');
      await again?.stop('SIGKILL');
      await redis.del(lock);
    }
  });

  test('QoS 1 messages re-forwarded during a hand-over to a node that dies while it buffers them, before the session is installed there, reach the client resuming through a third node after the clean-up [MQTT-4.5.0-1]', () => bufferedOnArrivingNode(env, redis, server.url, false));

  test('the same, the client resuming through a third node before the clean-up: the node cleaning up forwards the messages to it [MQTT-4.5.0-1]', () => bufferedOnArrivingNode(env, redis, server.url, true));

  test('a QoS 1 message a hand-over\'s old node re-forwards from its inbox to the new node stays in the old node\'s inbox (targeted at the session) while Redis has not applied that write, and reaches the client resuming through another node after the old node dies [MQTT-4.5.0-1]', () => reforwardedByDyingOldNode(env, redis, server.url));

  test('messages from one publisher to one topic arrive in the order published across the death of the subscriber\'s node: those replayed from its inbox come before those that reached the adopted session live [MQTT-4.6.0-5] [MQTT-4.6.0-6]', async () => {
    const base = unique('order');
    const topic = `${base}/t`;
    const { holder, holderId, pub, id, lock } = await offlineSubscriber(env, redis, base, 1);
    const inbox = keys.inbox(holderId);
    const watcher = await openRedis(server.url);
    let back: Peer | undefined;
    const publish = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) await pub.client.publishAsync(topic, String(i), { qos: 1 });
    };
    try {
      await publish(0, 5);
      await until(async () => (await redis.hlen(sessionOut(id))) === 5, 'the holder stored 0..4');
      // 5..9 reach the paused holder's inbox only; kept aside, they stand for batches still on their way
      process.kill(holder.pid, 'SIGSTOP');
      let onTheirWay: Record<string, Buffer>;
      try {
        await publish(5, 10);
        onTheirWay = await redis.hgetallBuffer(inbox);
        await redis.del(inbox);
      } finally {
        await holder.stop('SIGKILL');
      }
      assert.ok(Object.keys(onTheirWay).length > 0, '5..9 went through the holder\'s inbox');
      // the adopting node announces the adopted routes with the dead node's removal, then reads the
      // inbox: once that announcement is seen, the batches on their way land, and 10..19 go live
      // (the clean-up ends with a `gone` for the node too: only the first announcement counts)
      let seen = false;
      const adopted = new Promise<void>((resolve, reject) => {
        watcher.on('message', (_channel: string, text: string) => {
          const change = JSON.parse(text) as { node?: string; dropped?: string; gone?: boolean };
          if (seen || (change.dropped !== holderId && !(change.node === holderId && change.gone === true))) return;
          seen = true;
          redis
            .hset(inbox, onTheirWay)
            .then(() => publish(10, 20))
            .then(resolve, reject);
        });
      });
      await watcher.subscribe(keys.routeChanges);
      await redis.del(lock);
      await adopted;
      back = await connectPeer(url(env.list[1]!), persistent(id), 30_000);
      assert.equal(back.connack.sessionPresent, true, 'the session was adopted');
      const got = await receiveUntilQuiet(back, 2000);
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => String(i)), `${[...env.list, holder].map((n) => n.log()).join('\n')}`);
    } finally {
      watcher.disconnect();
      await endPeers(pub, back);
      await holder.stop('SIGKILL');
      await redis.del(lock);
    }
  });
});

describe('a dead node\'s inbox replayed into its adopted sessions, three-primary Redis Cluster', { skip }, () => {
  let cluster: RedisCluster;
  let redis: Commands;
  let env: SessionNodes;
  before(async () => {
    cluster = await startRedisCluster();
    redis = await openRedis(cluster.url);
    env = new SessionNodes(cluster.url);
    for (const id of ['irc1', 'irc2']) env.list.push(await env.start(id));
  });
  after(async () => {
    await env?.stop();
    redis?.disconnect();
    await cluster?.stop();
  });

  test('on a Redis Cluster, where the session entries and the inbox deletion are two transactions: a QoS 2 message stored by a node that died before deleting its inbox copy is delivered once [MQTT-4.3.3-10]', () => exactlyOnceAfterDeath(env, redis));
});
