// MQTT.js v5, the client most Node applications use, against Culex: the same behaviours checked
// speaking MQTT 3.1.1 and MQTT 5.0, then both versions mixed on the same topics. The v5-only
// features are in mqttjs-v5.suite.ts. mqttjs.test.ts runs these tests against a single broker,
// cluster-mqttjs.test.ts against a three-node cluster with the clients spread over its nodes: a
// client's node is the first argument of peer(), and target.settle() waits, on a cluster only, for
// subscriptions and retained messages to reach every node before the test relies on them.
//
// Titles cite the statements of the spec each run speaks: `spec(v, 3.1.1 ids, 5.0 ids)` puts the
// 3.1.1 numbering in the protocolVersion 4 titles and the 5.0 numbering in the version 5 ones.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { skipUnless, type InteropTarget } from '../helpers/interop-target.js';
import { connectPeer, endPeers, waitFor } from '../helpers/mqttjs.js';

/** MQTT.js's own calls (subscribeAsync, publishAsync) have no timeout: each suite as a whole has one. */
const suiteTimeout = 30_000;

type Version = 4 | 5;
const spec = (v: Version, v311: string, v5: string): string => (v === 4 ? `${v311} (3.1.1)` : `${v5} v5`);

/** Defines the suite against `target`: its start and stop, then every test. */
export function mqttjsSuite(target: InteropTarget): void {
  describe(`MQTT.js against ${target.title}`, { skip: skipUnless(target) }, () => {
    before(() => target.start());
    after(() => target.stop());

    let counter = 0;
    const unique = (name: string): string => `mqttjs/${name}-${process.pid}-${++counter}`;

    for (const v of [4, 5] as const) {
      describe(`MQTT.js speaking MQTT ${v === 4 ? '3.1.1' : '5.0'} (protocolVersion ${v})`, { timeout: suiteTimeout }, () => {
        /** A client on node `node` of the target (on a single broker, the broker). */
        const peer = (node: number, options: IClientOptions = {}) => connectPeer(target.url(node), { protocolVersion: v, ...options });
        /** Clean Session 0 in 3.1.1 keeps the session; in 5.0 a Session Expiry Interval must say so. */
        const persistent = (clientId: string): IClientOptions =>
          v === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 300 } } : { clientId, clean: false };

        test(`QoS 0, 1 and 2 are each acknowledged as their QoS requires and arrive once at that QoS ${spec(v, '[MQTT-3.3.4-1] [MQTT-3.8.4-6]', '[MQTT-3.3.4-1] [MQTT-3.8.4-8]')}`, async () => {
          const topic = unique('qos');
          const sub = await peer(1);
          const pub = await peer(0);
          await sub.client.subscribeAsync(topic, { qos: 2 });
          await target.settle();
          for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(topic, `at ${qos}`, { qos });
          const got = await sub.inbox.take(3);
          assert.deepEqual(got.map((m) => [m.payload, m.packet.qos]), [['at 0', 0], ['at 1', 1], ['at 2', 2]]);
          assert.ok(await sub.inbox.nothingWithin(100), 'no duplicates');
          await endPeers(sub, pub);
        });

        test(`delivery QoS is the minimum of the published QoS and the granted QoS ${spec(v, '[MQTT-3.8.4-6]', '[MQTT-3.8.4-8]')}`, async () => {
          const topic = unique('downgrade');
          const at0 = await peer(1);
          const at1 = await peer(2);
          await at0.client.subscribeAsync(topic, { qos: 0 });
          await at1.client.subscribeAsync(topic, { qos: 1 });
          await target.settle();
          const pub = await peer(0);
          await pub.client.publishAsync(topic, 'two', { qos: 2 });
          assert.equal((await at0.inbox.next()).packet.qos, 0);
          assert.equal((await at1.inbox.next()).packet.qos, 1);
          await endPeers(at0, at1, pub);
        });

        test(`a retained message is stored and sent to a new subscriber with the retain flag set ${spec(v, '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8]', '[MQTT-3.3.1-5] [MQTT-3.3.1-9]')}`, async () => {
          const topic = unique('retained');
          const pub = await peer(0);
          await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
          await target.settle();
          const sub = await peer(1);
          await sub.client.subscribeAsync(topic, { qos: 1 });
          const got = await sub.inbox.next();
          assert.equal(got.payload, 'kept');
          assert.equal(got.packet.retain, true);
          assert.equal(got.packet.qos, 1);
          await endPeers(pub, sub);
        });

        test(`a new retained message replaces the one stored for its topic ${spec(v, '[MQTT-3.3.1-5] [MQTT-3.3.1-7]', '[MQTT-3.3.1-5]')}`, async () => {
          const topic = unique('replaced');
          const pub = await peer(0);
          await pub.client.publishAsync(topic, 'first', { qos: 1, retain: true });
          await pub.client.publishAsync(topic, 'second', { qos: 0, retain: true });
          await target.settle();
          const sub = await peer(1);
          await sub.client.subscribeAsync(topic, { qos: 1 });
          assert.equal((await sub.inbox.next()).payload, 'second');
          assert.ok(await sub.inbox.nothingWithin(150), 'only the latest retained message');
          await endPeers(pub, sub);
        });

        test(`a non-retained publish leaves the retained message in place ${spec(v, '[MQTT-3.3.1-12]', '[MQTT-3.3.1-8]')}`, async () => {
          const topic = unique('not-replaced');
          const pub = await peer(0);
          await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
          await pub.client.publishAsync(topic, 'passing', { qos: 1 });
          await target.settle();
          const sub = await peer(1);
          await sub.client.subscribeAsync(topic, { qos: 1 });
          assert.equal((await sub.inbox.next()).payload, 'kept');
          await endPeers(pub, sub);
        });

        test(`an empty retained payload is delivered as normal and clears the retained message ${spec(v, '[MQTT-3.3.1-10] [MQTT-3.3.1-11]', '[MQTT-3.3.1-6] [MQTT-3.3.1-7]')}`, async () => {
          const topic = unique('cleared');
          const pub = await peer(0);
          await pub.client.publishAsync(topic, 'soon gone', { qos: 1, retain: true });
          await target.settle();
          const existing = await peer(1);
          await existing.client.subscribeAsync(topic, { qos: 1 });
          await existing.inbox.next(); // the retained message itself
          await target.settle();
          await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
          const clearing = await existing.inbox.next();
          assert.equal(clearing.payload, '');
          assert.equal(clearing.packet.retain, false, 'sent "as normal": retain flag 0 to an existing subscriber');
          await target.settle();
          const late = await peer(2);
          await late.client.subscribeAsync(topic, { qos: 1 });
          assert.ok(await late.inbox.nothingWithin(200), 'no retained message after the clear');
          await endPeers(pub, existing, late);
        });

        test(`a retained publish forwarded to an established subscription has the retain flag cleared ${spec(v, '[MQTT-3.3.1-9]', '[MQTT-3.3.1-12]')}`, async () => {
          const topic = unique('live-retained');
          const sub = await peer(1);
          await sub.client.subscribeAsync(topic, { qos: 1 });
          await target.settle();
          const pub = await peer(0);
          await pub.client.publishAsync(topic, 'live', { qos: 1, retain: true });
          const got = await sub.inbox.next();
          assert.equal(got.payload, 'live');
          assert.equal(got.packet.retain, false);
          await endPeers(sub, pub);
        });

        test(`retained messages are matched by + and # filters on subscribe ${spec(v, '[MQTT-3.3.1-6]', '[MQTT-3.3.1-9]')}`, async () => {
          const base = unique('retained-wild');
          const pub = await peer(0);
          for (const topic of ['a/x', 'b/x', 'c/y', 'c/y/z']) await pub.client.publishAsync(`${base}/${topic}`, topic, { qos: 1, retain: true });
          await target.settle();
          const plus = await peer(1);
          await plus.client.subscribeAsync(`${base}/+/x`, { qos: 1 });
          const hash = await peer(2);
          await hash.client.subscribeAsync(`${base}/c/#`, { qos: 1 });
          const byPlus = (await plus.inbox.take(2)).map((m) => m.payload).sort();
          const byHash = (await hash.inbox.take(2)).map((m) => m.payload).sort();
          assert.deepEqual(byPlus, ['a/x', 'b/x']);
          assert.deepEqual(byHash, ['c/y', 'c/y/z']);
          assert.ok(await plus.inbox.nothingWithin(100));
          await endPeers(pub, plus, hash);
        });

        test(`a will message is published when the connection closes without DISCONNECT ${spec(v, '[MQTT-3.1.2-8]', '[MQTT-3.1.2-8]')}`, async () => {
          const topic = unique('will');
          const watcher = await peer(1);
          await watcher.client.subscribeAsync(topic, { qos: 1 });
          await target.settle();
          const dying = await peer(0, { will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
          dying.client.stream.destroy(); // abnormal close: the TCP connection just ends
          const will = await watcher.inbox.next();
          assert.equal(will.payload, 'gone');
          assert.equal(will.packet.qos, 1);
          dying.client.end(true);
          await endPeers(watcher);
        });

        test(`no will message is published after a normal DISCONNECT ${spec(v, '[MQTT-3.1.2-10] [MQTT-3.14.4-3]', '[MQTT-3.1.2-10] [MQTT-3.14.4-3]')}`, async () => {
          const topic = unique('no-will');
          const watcher = await peer(1);
          await watcher.client.subscribeAsync(topic, { qos: 1 });
          await target.settle();
          const leaving = await peer(0, { will: { topic, payload: Buffer.from('should not appear'), qos: 1, retain: false } });
          await endPeers(leaving);
          assert.ok(await watcher.inbox.nothingWithin(300), 'the will was discarded');
          await endPeers(watcher);
        });

        test('+ matches exactly one topic level and # any number of levels, including the parent level', async () => {
          const base = unique('wild');
          const plus = await peer(1);
          await plus.client.subscribeAsync(`${base}/+/temp`, { qos: 1 });
          const hash = await peer(2);
          await hash.client.subscribeAsync(`${base}/room/#`, { qos: 1 });
          await target.settle();
          const pub = await peer(0);
          for (const topic of ['room/temp', 'room/a/temp', 'room', 'hall/temp', 'room/']) await pub.client.publishAsync(`${base}/${topic}`, topic, { qos: 1 });
          await pub.client.publishAsync(`${base}/end`, 'end', { qos: 1 });
          const byPlus = (await plus.inbox.take(2)).map((m) => m.payload);
          const byHash = (await hash.inbox.take(4)).map((m) => m.payload);
          assert.deepEqual(byPlus, ['room/temp', 'hall/temp']);
          assert.deepEqual(byHash, ['room/temp', 'room/a/temp', 'room', 'room/']);
          await endPeers(plus, hash, pub);
        });

        test('[MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with $', async () => {
          const id = unique('dollar').replace(/\//g, '-');
          const broad = await peer(1);
          await broad.client.subscribeAsync(['#', `+/${id}`], { qos: 1 });
          const dollar = await peer(2);
          await dollar.client.subscribeAsync(`$culex-test/${id}`, { qos: 1 });
          await target.settle();
          await new Promise((resolve) => setTimeout(resolve, 150));
          broad.inbox.drain(); // retained messages of earlier tests, matched by '#'
          const pub = await peer(0);
          await pub.client.publishAsync(`$culex-test/${id}`, 'dollar', { qos: 1 });
          await pub.client.publishAsync(`plain/${id}`, 'plain', { qos: 1 });
          assert.equal((await dollar.inbox.next()).payload, 'dollar');
          const got = await broad.inbox.next();
          assert.equal(got.topic, `plain/${id}`, 'the $ topic matched neither # nor +');
          assert.ok(await broad.inbox.nothingWithin(150), 'one copy for the overlapping subscriptions');
          await endPeers(broad, dollar, pub);
        });

        test(`a persistent session keeps its subscriptions and queues QoS 1 messages while the client is away ${spec(v, '[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2]', '[MQTT-3.1.2-5] [MQTT-3.1.2-23] [MQTT-3.2.2-3]')}`, async () => {
          const topic = unique('offline');
          const clientId = unique('persistent').replace(/\//g, '-');
          const first = await peer(1, persistent(clientId));
          assert.equal(first.connack.sessionPresent, false);
          await first.client.subscribeAsync(topic, { qos: 1 });
          await target.settle();
          await endPeers(first);
          const pub = await peer(0);
          for (const n of [1, 2, 3]) await pub.client.publishAsync(topic, `queued ${n}`, { qos: 1 });
          // back on the node that holds the session (the cluster target keeps sessions in memory)
          const back = await peer(1, persistent(clientId));
          assert.equal(back.connack.sessionPresent, true);
          const got = await back.inbox.take(3);
          assert.deepEqual(got.map((m) => [m.payload, m.packet.qos]), [['queued 1', 1], ['queued 2', 1], ['queued 3', 1]]);
          await endPeers(pub, back);
          await endPeers(await peer(1, { clientId, clean: true })); // ends the stored session
        });

        test(`a clean connection gets Session Present 0 ${spec(v, '[MQTT-3.2.2-1]', '[MQTT-3.2.2-2]')}`, async () => {
          const clientId = unique('clean').replace(/\//g, '-');
          await endPeers(await peer(1, persistent(clientId)));
          const clean = await peer(2, { clientId, clean: true });
          assert.equal(clean.connack.sessionPresent, false);
          await endPeers(clean);
        });

        test(`a second connection with the same client id takes over and closes the first ${spec(v, '[MQTT-3.1.4-2]', '[MQTT-3.1.4-3]')}`, async () => {
          const clientId = unique('takeover').replace(/\//g, '-');
          const first = await peer(1, { clientId });
          const closed = waitFor(first.client, 'close');
          const disconnect = v === 5 ? waitFor(first.client, 'disconnect') : undefined;
          const second = await peer(2, { clientId });
          await closed;
          if (disconnect !== undefined) {
            const [packet] = await disconnect;
            assert.equal(packet.reasonCode, 0x8e, 'Session taken over');
          }
          const topic = unique('takeover-works');
          await second.client.subscribeAsync(topic, { qos: 1 });
          await second.client.publishAsync(topic, 'still here', { qos: 1 });
          assert.equal((await second.inbox.next()).payload, 'still here');
          first.client.end(true);
          await endPeers(second);
        });
      });
    }

    describe('MQTT.js clients of both versions on the same topics', { timeout: suiteTimeout }, () => {
      test('a v5 message with properties reaches v4 subscribers as topic and payload, and v5 subscribers whole', async () => {
        const topic = unique('mixed');
        const old = await connectPeer(target.url(1), { protocolVersion: 4 });
        const modern = await connectPeer(target.url(2), { protocolVersion: 5 });
        await old.client.subscribeAsync(topic, { qos: 2 });
        await modern.client.subscribeAsync(topic, { qos: 2 });
        await target.settle();
        const pub = await connectPeer(target.url(0), { protocolVersion: 5 });
        await pub.client.publishAsync(topic, 'both', { qos: 2, properties: { contentType: 'text/plain', userProperties: { from: 'v5' } } });
        const toOld = await old.inbox.next();
        const toModern = await modern.inbox.next();
        assert.equal(toOld.payload, 'both');
        assert.equal(toOld.packet.qos, 2);
        assert.equal(toOld.packet.properties, undefined);
        assert.equal(toModern.payload, 'both');
        assert.equal(toModern.packet.properties?.contentType, 'text/plain');
        assert.deepEqual({ ...toModern.packet.properties?.userProperties }, { from: 'v5' }); // MQTT.js gives a null-prototype object
        await endPeers(old, modern, pub);
      });

      test('retained messages and QoS 2 cross between v4 and v5 in both directions', async () => {
        const base = unique('mixed-retained');
        const old = await connectPeer(target.url(1), { protocolVersion: 4 });
        const modern = await connectPeer(target.url(2), { protocolVersion: 5 });
        await old.client.publishAsync(`${base}/from-v4`, 'v4 kept', { qos: 2, retain: true });
        await modern.client.publishAsync(`${base}/from-v5`, 'v5 kept', { qos: 2, retain: true });
        await target.settle();
        await old.client.subscribeAsync(`${base}/from-v5`, { qos: 2 });
        await modern.client.subscribeAsync(`${base}/from-v4`, { qos: 2 });
        const toOld = await old.inbox.next();
        const toModern = await modern.inbox.next();
        assert.deepEqual([toOld.payload, toOld.packet.retain, toOld.packet.qos], ['v5 kept', true, 2]);
        assert.deepEqual([toModern.payload, toModern.packet.retain, toModern.packet.qos], ['v4 kept', true, 2]);
        await endPeers(old, modern);
      });

      test('[MQTT-3.1.3-6] (3.1.1) an empty client id with Clean Session 1 is accepted and given an id', async () => {
        const anonymous = await connectPeer(target.url(1), { protocolVersion: 4, clientId: '', clean: true });
        const topic = unique('anonymous');
        await anonymous.client.subscribeAsync(topic, { qos: 1 });
        await anonymous.client.publishAsync(topic, 'works', { qos: 1 });
        assert.equal((await anonymous.inbox.next()).payload, 'works');
        const ids = (await target.clientIds()).filter((id) => id.startsWith('auto-'));
        assert.ok(ids.length >= 1, 'the broker assigned an id');
        await endPeers(anonymous);
      });
    });
  });
}
