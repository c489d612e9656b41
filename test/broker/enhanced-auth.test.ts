// MQTT 5.0 enhanced authentication (§4.12) on the wire, with the shipped SCRAM-SHA-256 method:
// the test plays the client side of RFC 5802 with node:crypto.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { ScramSha256, scramCredentials, type ScramCredentials } from '../../src/index.js';
import type { ConnectPacket, Packet } from '../../src/protocol/packets.js';

const METHOD = 'SCRAM-SHA-256';
let broker: TestBroker;
before(async () => {
  const users = new Map<string, string | ScramCredentials>([
    ['alice', 'wonderland'],
    ['bob', scramCredentials('builder')],
  ]);
  broker = await startBroker({ enhancedAuthenticators: [new ScramSha256(users)] });
});
after(() => broker.close());

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** The client side of SCRAM-SHA-256 (RFC 5802 §3). */
class ScramClient {
  readonly nonce = randomBytes(18).toString('base64');
  readonly clientFirstBare: string;
  private authMessage = '';
  private saltedPassword = Buffer.alloc(0);
  constructor(
    user: string,
    private readonly password: string,
  ) {
    this.clientFirstBare = `n=${user},r=${this.nonce}`;
  }
  first(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`);
  }
  final(serverFirst: string): Buffer {
    const fields = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as const));
    assert.ok(fields.get('r')!.startsWith(this.nonce), 'the server nonce extends the client nonce');
    this.saltedPassword = pbkdf2Sync(this.password, Buffer.from(fields.get('s')!, 'base64'), Number(fields.get('i')), 32, 'sha256');
    const withoutProof = `c=biws,r=${fields.get('r')}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(this.saltedPassword, 'Client Key');
    const signature = hmac(sha256(clientKey), this.authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }
  serverFinalValid(serverFinal: string): boolean {
    return serverFinal === `v=${hmac(hmac(this.saltedPassword, 'Server Key'), this.authMessage).toString('base64')}`;
  }
}

function connect(client: RawClient, fields: Partial<ConnectPacket>): void {
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: `scram-${Math.random().toString(16).slice(2, 8)}`, ...fields });
}

/** Runs client-first → AUTH 0x18 server-first → AUTH 0x18 client-final; returns the broker's last answer. */
async function scramConnect(user: string, password: string): Promise<{ client: RawClient; scram: ScramClient; answer: Packet | undefined }> {
  const client = await RawClient.open(broker.port, 5);
  const scram = new ScramClient(user, password);
  connect(client, { properties: { authenticationMethod: METHOD, authenticationData: scram.first() } });
  const challenge = await client.expect('auth');
  assert.equal(challenge.reasonCode, 0x18);
  assert.equal(challenge.properties?.authenticationMethod, METHOD);
  client.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: scram.final(challenge.properties!.authenticationData!.toString()) } });
  return { client, scram, answer: await client.next() };
}

test('[MQTT-4.12.0-2] [MQTT-4.12.0-5] SCRAM-SHA-256: AUTH 0x18 exchanges, then CONNACK with the method and the server signature', async () => {
  const { client, scram, answer } = await scramConnect('alice', 'wonderland');
  assert.equal(answer?.type, 'connack');
  const connack = answer as Extract<Packet, { type: 'connack' }>;
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.properties?.authenticationMethod, METHOD);
  assert.ok(scram.serverFinalValid(connack.properties!.authenticationData!.toString()), 'server-final proves the server knows the credentials');
  client.send({ type: 'pingreq' });
  await client.expect('pingresp');
  client.destroy();
});

test('SCRAM-SHA-256 against stored salted credentials (no password kept)', async () => {
  const { client, answer } = await scramConnect('bob', 'builder');
  assert.equal(answer?.type, 'connack');
  assert.equal((answer as Extract<Packet, { type: 'connack' }>).reasonCode, 0);
  client.destroy();
});

test('[MQTT-4.12.0-4] SCRAM-SHA-256 with a wrong password: CONNACK 0x87 Not authorized, then close', async () => {
  const { client, answer } = await scramConnect('alice', 'looking-glass');
  assert.equal(answer?.type, 'connack');
  assert.equal((answer as Extract<Packet, { type: 'connack' }>).reasonCode, 0x87);
  await client.closedByBroker();
});

test('SCRAM-SHA-256 for an unknown user fails only at the proof, like a wrong password', async () => {
  const { client, answer } = await scramConnect('mallory', 'anything');
  assert.equal((answer as Extract<Packet, { type: 'connack' }>).reasonCode, 0x87);
  await client.closedByBroker();
});

test('[MQTT-4.12.0-1] an unsupported Authentication Method gets CONNACK 0x8C Bad authentication method and a close', async () => {
  const client = await RawClient.open(broker.port, 5);
  connect(client, { properties: { authenticationMethod: 'KERBEROS' } });
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, 0x8c);
  await client.closedByBroker();
});

test('[MQTT-4.12.0-6] without an Authentication Method the CONNACK has none and no AUTH is sent', async () => {
  const client = await RawClient.open(broker.port, 5);
  connect(client, {});
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.properties?.authenticationMethod, undefined);
  client.send({ type: 'pingreq' });
  await client.expect('pingresp');
  client.destroy();
});

test('[MQTT-4.12.0-7] AUTH from a client that named no Authentication Method is a protocol error', async () => {
  const client = await RawClient.connected(broker.port, { protocolVersion: 5 });
  client.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: METHOD } });
  const disconnect = await client.expect('disconnect');
  assert.equal(disconnect.reasonCode, 0x82);
  await client.closedByBroker();
});

test('[MQTT-4.12.0-5] an AUTH with another method than CONNECT is a protocol error', async () => {
  const client = await RawClient.open(broker.port, 5);
  const scram = new ScramClient('alice', 'wonderland');
  connect(client, { properties: { authenticationMethod: METHOD, authenticationData: scram.first() } });
  await client.expect('auth');
  client.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from('x') } });
  await client.closedByBroker();
});

test('[MQTT-4.12.1-1] re-authentication: AUTH 0x19 runs the exchange again and ends with AUTH 0x00', async () => {
  const { client, answer } = await scramConnect('alice', 'wonderland');
  assert.equal((answer as Extract<Packet, { type: 'connack' }>).reasonCode, 0);
  const again = new ScramClient('alice', 'wonderland');
  client.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: METHOD, authenticationData: again.first() } });
  const challenge = await client.expect('auth');
  assert.equal(challenge.reasonCode, 0x18);
  client.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: again.final(challenge.properties!.authenticationData!.toString()) } });
  const done = await client.expect('auth');
  assert.equal(done.reasonCode ?? 0, 0);
  assert.equal(done.properties?.authenticationMethod, METHOD);
  assert.ok(again.serverFinalValid(done.properties!.authenticationData!.toString()));
  client.send({ type: 'pingreq' });
  await client.expect('pingresp');
  client.destroy();
});

test('[MQTT-4.12.1-2] a failed re-authentication gets DISCONNECT 0x87 and a close', async () => {
  const { client } = await scramConnect('alice', 'wonderland');
  const wrong = new ScramClient('alice', 'not-it');
  client.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: METHOD, authenticationData: wrong.first() } });
  const challenge = await client.expect('auth');
  client.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: wrong.final(challenge.properties!.authenticationData!.toString()) } });
  const disconnect = await client.expect('disconnect');
  assert.equal(disconnect.reasonCode, 0x87);
  await client.closedByBroker();
});

test('[MQTT-3.1.2-30] a PUBLISH sent during the AUTH exchange, before CONNACK, closes the connection without a CONNACK and is not routed', async () => {
  const watcher = await RawClient.connected(broker.port, { protocolVersion: 5 });
  watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'early', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await watcher.expect('suback');
  const client = await RawClient.open(broker.port, 5);
  const scram = new ScramClient('alice', 'wonderland');
  connect(client, { properties: { authenticationMethod: METHOD, authenticationData: scram.first() } });
  assert.equal((await client.expect('auth')).reasonCode, 0x18);
  client.send({ type: 'publish', topic: 'early', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.deepEqual(await client.closedByBroker(), []);
  assert.ok(await watcher.nothingWithin(150), 'the early PUBLISH was routed');
  watcher.destroy();
});
