// Asynchronous authorisation hooks (Authorizer.canPublish / canSubscribe answering with a promise):
// while one client's check has not answered, only that client waits, and its later packets are held
// behind the check in order; every other client publishes, subscribes and receives as usual. The
// hook is held open by the test (no clock involved) and then answered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Authorizer, ClientIdentity } from '../../src/auth/port.js';
import type { Packet, QoS } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/** A hook that keeps the client "slow"'s checks pending until open() is called; everyone else is answered at once. */
class HeldAuthorizer implements Authorizer {
  readonly asked: string[] = [];
  private waiting: (() => void)[] = [];
  private opened = false;
  private wake: (() => void) | undefined;

  canPublish(client: ClientIdentity, topic: string): boolean | Promise<boolean> {
    if (client.clientId !== 'slow') return true;
    return this.hold(`publish ${topic}`).then(() => topic !== 'slow/denied');
  }

  canSubscribe(client: ClientIdentity, filter: string, qos: QoS): number | Promise<number> {
    if (client.clientId !== 'slow') return qos;
    return this.hold(`subscribe ${filter}`).then(() => (filter === 'denied/#' ? ReasonCode.NotAuthorized : qos));
  }

  canReceive(): boolean {
    return true;
  }

  /** Resolves once the hook has been asked `count` times in all. */
  async askedTimes(count: number): Promise<void> {
    for (let i = 0; i < 100 && this.asked.length < count; i++) await new Promise<void>((resolve) => (this.wake = resolve));
    assert.ok(this.asked.length >= count, `the hook was asked ${this.asked.length} times`);
  }

  open(): void {
    this.opened = true;
    for (const resume of this.waiting.splice(0)) resume();
  }

  private hold(what: string): Promise<void> {
    this.asked.push(what);
    this.wake?.();
    if (this.opened) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

const subscribe = (packetId: number, filter: string): Packet => ({ type: 'subscribe', packetId, subscriptions: [{ filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
const publish = (packetId: number, topic: string): Packet => ({ type: 'publish', packetId, topic, payload: Buffer.from(topic), qos: 1, retain: false, dup: false });

test('a canPublish hook that has not answered for one client holds back only that client, in order; other clients publish, subscribe and receive meanwhile', async () => {
  const hooks = new HeldAuthorizer();
  const broker = await startBroker({ authorizer: hooks });
  const clients: RawClient[] = [];
  try {
    const watcher = await RawClient.connected(broker.port, { clientId: 'watcher', protocolVersion: 5 });
    clients.push(watcher);
    watcher.send(subscribe(1, '#'));
    assert.deepEqual((await watcher.expect('suback')).reasonCodes, [1]);

    const slow = await RawClient.connected(broker.port, { clientId: 'slow', protocolVersion: 5 });
    clients.push(slow);
    slow.send(publish(1, 'slow/first'));
    slow.send(publish(2, 'slow/denied'));
    slow.send(publish(3, 'slow/last'));
    await hooks.askedTimes(1); // the first check is pending; the two others wait behind it

    // Meanwhile a new client connects, subscribes, publishes and gets its own message and its PUBACK.
    const other = await RawClient.connected(broker.port, { clientId: 'other', protocolVersion: 5 });
    clients.push(other);
    other.send(subscribe(1, 'other/#'));
    assert.deepEqual((await other.expect('suback')).reasonCodes, [1]);
    other.send(publish(7, 'other/x'));
    const seenByOther = [await other.next(), await other.next()].map((p) => p?.type).sort();
    assert.deepEqual(seenByOther, ['puback', 'publish']);
    assert.equal((await watcher.expect('publish')).topic, 'other/x');
    assert.deepEqual(hooks.asked, ['publish slow/first'], 'the slow client\'s later packets wait behind its pending check');
    assert.ok(await slow.nothingWithin(50), 'no PUBACK for the slow client yet');

    hooks.open();
    // Now its three messages are decided in the order sent: two delivered, the denied one acknowledged with 0x87.
    const acks = [await slow.expect('puback'), await slow.expect('puback'), await slow.expect('puback')];
    assert.deepEqual(acks.map((ack) => [ack.packetId, ack.reasonCode ?? 0]), [[1, 0], [2, ReasonCode.NotAuthorized], [3, 0]]);
    assert.deepEqual(hooks.asked, ['publish slow/first', 'publish slow/denied', 'publish slow/last']);
    const delivered = [await watcher.expect('publish'), await watcher.expect('publish')].map((p) => p.topic);
    assert.deepEqual(delivered, ['slow/first', 'slow/last']);
  } finally {
    for (const client of clients) client.destroy();
    await broker.close();
  }
});

test('a canSubscribe hook that has not answered for one client delays only its SUBACK; its answer (granted QoS or 0x87) is what the client gets', async () => {
  const hooks = new HeldAuthorizer();
  const broker = await startBroker({ authorizer: hooks });
  const clients: RawClient[] = [];
  try {
    const slow = await RawClient.connected(broker.port, { clientId: 'slow', protocolVersion: 5 });
    clients.push(slow);
    slow.send(subscribe(1, 'news/#'));
    slow.send(subscribe(2, 'denied/#'));
    await hooks.askedTimes(1);

    const other = await RawClient.connected(broker.port, { clientId: 'other', protocolVersion: 5 });
    clients.push(other);
    other.send(subscribe(1, 'news/#'));
    assert.deepEqual((await other.expect('suback')).reasonCodes, [1]);
    other.send(publish(2, 'news/before'));
    const seenByOther = [await other.next(), await other.next()].map((p) => p?.type).sort();
    assert.deepEqual(seenByOther, ['puback', 'publish']);
    assert.ok(await slow.nothingWithin(50), 'no SUBACK for the slow client yet');

    hooks.open();
    const first = await slow.expect('suback');
    const second = await slow.expect('suback');
    assert.deepEqual([first.packetId, first.reasonCodes], [1, [1]]);
    assert.deepEqual([second.packetId, second.reasonCodes], [2, [ReasonCode.NotAuthorized]]);
    other.send(publish(3, 'news/after'));
    assert.equal((await slow.expect('publish')).topic, 'news/after');
  } finally {
    for (const client of clients) client.destroy();
    await broker.close();
  }
});
