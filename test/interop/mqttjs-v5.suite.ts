// MQTT.js v5 against Culex, the features only MQTT 5.0 has: assigned client ids, forwarded PUBLISH
// properties, subscription identifiers, the subscription options (No Local, Retain As Published,
// Retain Handling), shared subscriptions, topic aliases from the client and message expiry.
// Statement ids are MQTT 5.0's. mqttjs-v5.test.ts runs these tests against a single broker,
// cluster-mqttjs-v5.test.ts against a three-node cluster with the clients spread over its nodes (see
// mqttjs.suite.ts for peer(node) and target.settle()).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { skipUnless, type InteropTarget } from '../helpers/interop-target.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';

/** MQTT.js gives one identifier as a number and several as an array. */
const idsOf = (value: number | number[] | undefined): number[] => (value === undefined ? [] : Array.isArray(value) ? [...value].sort() : [value]);

/** Defines the suite against `target`: its start and stop, then every test. */
export function mqttjsV5Suite(target: InteropTarget): void {
  // MQTT.js's own calls (subscribeAsync, publishAsync) have no timeout: the suite as a whole has one.
  describe(`MQTT.js speaking MQTT 5.0 against ${target.title}`, { timeout: 30_000, skip: skipUnless(target) }, () => {
    before(() => target.start());
    after(() => target.stop());

    let counter = 0;
    const unique = (name: string): string => `mqttjs-v5/${name}-${process.pid}-${++counter}`;
    /** A client on node `node` of the target (on a single broker, the broker). */
    const peer = (node: number, options: IClientOptions = {}) => connectPeer(target.url(node), { protocolVersion: 5, ...options });

    test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16] an empty client id gets a unique Assigned Client Identifier in CONNACK', async () => {
      const first = await peer(1, { clientId: '' });
      const second = await peer(2, { clientId: '' });
      const a = first.connack.properties?.assignedClientIdentifier;
      const b = second.connack.properties?.assignedClientIdentifier;
      assert.ok(a && b, 'both CONNACKs carry an Assigned Client Identifier');
      assert.notEqual(a, b);
      const known = await target.clientIds();
      assert.ok(known.includes(a) && known.includes(b), 'the connections are known by their assigned ids');
      await endPeers(first, second);
    });

    test('[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] PUBLISH properties are forwarded unaltered', async () => {
      const topic = unique('properties');
      const sub = await peer(1);
      await sub.client.subscribeAsync(topic, { qos: 1 });
      await target.settle();
      const pub = await peer(0);
      const properties = {
        payloadFormatIndicator: true,
        contentType: 'application/json; charset=utf-8',
        responseTopic: `${topic}/reply`,
        correlationData: Buffer.from([0, 1, 2, 0xfe, 0xff]),
        userProperties: { first: 'one', second: ['two', 'deux'], 'ünïcode': '✓' },
      };
      await pub.client.publishAsync(topic, '{"ok":true}', { qos: 1, properties });
      const got = (await sub.inbox.next()).packet.properties;
      assert.equal(got?.payloadFormatIndicator, true);
      assert.equal(got?.contentType, properties.contentType);
      assert.equal(got?.responseTopic, properties.responseTopic);
      assert.deepEqual(got?.correlationData, properties.correlationData);
      const userProperties = { ...got?.userProperties };
      assert.deepEqual(userProperties, properties.userProperties);
      assert.deepEqual(Object.keys(userProperties), ['first', 'second', 'ünïcode'], 'order kept');
      await endPeers(sub, pub);
    });

    test('[MQTT-3.3.4-3] [MQTT-3.3.4-4] a message matching overlapping subscriptions carries all their Subscription Identifiers', async () => {
      const base = unique('subid');
      const sub = await peer(1);
      await sub.client.subscribeAsync(`${base}/+`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
      await sub.client.subscribeAsync(`${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 300 } });
      await sub.client.subscribeAsync(`${base}/only`, { qos: 1 }); // no identifier
      await target.settle();
      const pub = await peer(0);
      await pub.client.publishAsync(`${base}/only`, 'overlap', { qos: 1 });
      await pub.client.publishAsync(`${base}/deep/er`, 'one match', { qos: 1 });
      const overlap = await sub.inbox.next();
      assert.equal(overlap.payload, 'overlap');
      assert.deepEqual(idsOf(overlap.packet.properties?.subscriptionIdentifier), [300, 7].sort());
      const single = await sub.inbox.next();
      assert.equal(single.payload, 'one match');
      assert.deepEqual(idsOf(single.packet.properties?.subscriptionIdentifier), [300]);
      await endPeers(sub, pub);
    });

    test('[MQTT-3.8.3-3] No Local: a client does not receive its own messages, but others do', async () => {
      const topic = unique('nolocal');
      const self = await peer(1);
      await self.client.subscribeAsync(topic, { qos: 1, nl: true });
      await target.settle();
      const other = await peer(0);
      await self.client.publishAsync(topic, 'mine', { qos: 1 });
      await other.client.publishAsync(topic, 'theirs', { qos: 1 });
      assert.equal((await self.inbox.next()).payload, 'theirs');
      assert.ok(await self.inbox.nothingWithin(100));
      await endPeers(self, other);
    });

    test('[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published keeps the RETAIN flag on forwarded messages, its absence clears it', async () => {
      const topic = unique('rap');
      const asPublished = await peer(1);
      await asPublished.client.subscribeAsync(topic, { qos: 1, rap: true });
      const plain = await peer(2);
      await plain.client.subscribeAsync(topic, { qos: 1, rap: false });
      await target.settle();
      const pub = await peer(0);
      await pub.client.publishAsync(topic, 'retained', { qos: 1, retain: true });
      await pub.client.publishAsync(topic, 'not retained', { qos: 1 });
      assert.deepEqual((await asPublished.inbox.take(2)).map((m) => m.packet.retain), [true, false]);
      assert.deepEqual((await plain.inbox.take(2)).map((m) => m.packet.retain), [false, false]);
      await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
      await endPeers(asPublished, plain, pub);
    });

    test('[MQTT-3.3.1-9] [MQTT-3.8.4-4] Retain Handling 0 sends retained messages on every subscribe, a repeated one included', async () => {
      const topic = unique('rh0');
      const pub = await peer(0);
      await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
      await target.settle();
      const sub = await peer(1);
      await sub.client.subscribeAsync(topic, { qos: 1, rh: 0 });
      assert.equal((await sub.inbox.next()).payload, 'kept');
      await sub.client.subscribeAsync(topic, { qos: 1, rh: 0 });
      assert.equal((await sub.inbox.next()).payload, 'kept');
      await endPeers(pub, sub);
    });

    test('[MQTT-3.3.1-10] Retain Handling 1 sends retained messages only when the subscription is new', async () => {
      const topic = unique('rh1');
      const pub = await peer(0);
      await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
      await target.settle();
      const sub = await peer(1);
      await sub.client.subscribeAsync(topic, { qos: 1, rh: 1 });
      assert.equal((await sub.inbox.next()).payload, 'kept');
      await sub.client.subscribeAsync(topic, { qos: 1, rh: 1 });
      assert.ok(await sub.inbox.nothingWithin(200), 'not again for the existing subscription');
      await endPeers(pub, sub);
    });

    test('[MQTT-3.3.1-11] Retain Handling 2 sends no retained messages on subscribe', async () => {
      const topic = unique('rh2');
      const pub = await peer(0);
      await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
      await target.settle();
      const sub = await peer(1);
      await sub.client.subscribeAsync(topic, { qos: 1, rh: 2 });
      assert.ok(await sub.inbox.nothingWithin(200));
      await target.settle();
      await pub.client.publishAsync(topic, 'live', { qos: 1 });
      assert.equal((await sub.inbox.next()).payload, 'live', 'live messages still flow');
      await endPeers(pub, sub);
    });

    test('a shared subscription $share/g/topic gives each message to one member, round robin (MQTT 5.0 §4.8.2)', async () => {
      const topic = unique('shared');
      const group = `$share/g${counter}/${topic}`;
      // one member on each node: on a cluster the publisher's node picks the group's node in turn
      const members = [await peer(0), await peer(1), await peer(2)];
      for (const member of members) await member.client.subscribeAsync(group, { qos: 1 });
      const everything = await peer(2);
      await everything.client.subscribeAsync(topic, { qos: 1 });
      await target.settle();
      const pub = await peer(0);
      for (let n = 0; n < 9; n++) await pub.client.publishAsync(topic, `m${n}`, { qos: 1 });
      assert.equal((await everything.inbox.take(9)).length, 9, 'a plain subscription still gets every message');
      const shares = await Promise.all(members.map((member) => member.inbox.take(3)));
      const payloads = shares.flat().map((m) => m.payload).sort();
      assert.deepEqual(payloads, [...Array(9).keys()].map((n) => `m${n}`).sort(), 'each message exactly once in the group');
      for (const share of shares) {
        const numbers = share.map((m) => Number(m.payload.slice(1)));
        assert.deepEqual([numbers[1]! - numbers[0]!, numbers[2]! - numbers[1]!], [3, 3], `round robin: ${numbers.join(',')}`);
      }
      for (const member of members) assert.ok(await member.inbox.nothingWithin(50));
      await endPeers(...members, everything, pub);
    });

    test('[MQTT-3.3.2-12] a topic alias set by the client is accepted, and subscribers get the full topic name', async () => {
      const topic = unique('alias');
      const sub = await peer(1);
      await sub.client.subscribeAsync(topic, { qos: 1 });
      await target.settle();
      const pub = await peer(0);
      assert.ok((pub.connack.properties?.topicAliasMaximum ?? 0) >= 1, 'the broker advertises Topic Alias Maximum');
      const sent: string[] = [];
      pub.client.on('packetsend', (packet) => {
        if (packet.cmd === 'publish') sent.push(packet.topic);
      });
      await pub.client.publishAsync(topic, 'sets alias', { qos: 1, properties: { topicAlias: 1 } });
      await pub.client.publishAsync('', 'uses alias', { qos: 1, properties: { topicAlias: 1 } });
      const got = await sub.inbox.take(2);
      assert.deepEqual(got.map((m) => [m.topic, m.payload]), [[topic, 'sets alias'], [topic, 'uses alias']]);
      assert.deepEqual(sent, [topic, ''], 'the second PUBLISH named its topic by alias only');
      assert.equal(got[1]!.packet.properties?.topicAlias, undefined, 'the alias is not forwarded');
      await endPeers(sub, pub);
    });

    test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] a queued message past its expiry is dropped; one still valid arrives with the remaining interval', async () => {
      const topic = unique('expiry');
      const clientId = unique('expiring').replace(/\//g, '-');
      const session = { clientId, clean: false, properties: { sessionExpiryInterval: 60 } };
      const first = await peer(1, session);
      await first.client.subscribeAsync(topic, { qos: 1 });
      await target.settle();
      await endPeers(first);
      const pub = await peer(0);
      await pub.client.publishAsync(topic, 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
      await pub.client.publishAsync(topic, 'long-lived', { qos: 1, properties: { messageExpiryInterval: 30 } });
      await new Promise((resolve) => setTimeout(resolve, 2100)); // offline for longer than the first message lives
      const back = await peer(1, session);
      assert.equal(back.connack.sessionPresent, true);
      const got = await back.inbox.next();
      assert.equal(got.payload, 'long-lived');
      const remaining = got.packet.properties?.messageExpiryInterval;
      assert.ok(remaining !== undefined && remaining <= 28 && remaining > 0, `remaining interval ${remaining} is the original 30 minus the ~2 s waited`);
      assert.ok(await back.inbox.nothingWithin(150), 'the expired message is not delivered');
      await endPeers(pub, back);
    });
  });
}
