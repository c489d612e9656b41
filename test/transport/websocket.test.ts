// MQTT over WebSocket: MQTT.js over ws:// and wss:// against a `protocol websockets` listener.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { makeCertificates } from '../helpers/certificates.js';

async function start(lines: string): Promise<{ running: AssembledBroker; port: number }> {
  const port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-ws-conf-')), 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n${lines}`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  return { running: await assemble(config, { logger: silentLogger }), port };
}

async function roundTrip(client: mqtt.MqttClient, topic: string, text: string): Promise<string> {
  await client.subscribeAsync(topic, { qos: 1 });
  const received = new Promise<string>((resolve) => client.on('message', (_topic, payload) => resolve(payload.toString())));
  await client.publishAsync(topic, text, { qos: 1 });
  return received;
}

test('MQTT.js publishes and receives over ws://host:port/mqtt', async () => {
  const { running, port } = await start('');
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, { reconnectPeriod: 0 });
  try {
    assert.equal(await roundTrip(client, 'ws/test', 'over websocket'), 'over websocket');
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('an MQTT 5 client over WebSocket gets its CONNACK properties and messages', async () => {
  const { running, port } = await start('');
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, { reconnectPeriod: 0, protocolVersion: 5 });
  try {
    assert.equal(await roundTrip(client, 'ws/v5', 'five'), 'five');
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('the mqttv3.1 subprotocol is accepted and an unknown one is refused', async () => {
  const { running, port } = await start('');
  const open = (protocol: string): Promise<string> =>
    new Promise((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, protocol);
      socket.on('open', () => {
        resolve(socket.protocol);
        socket.close();
      });
      socket.on('error', () => resolve('refused'));
    });
  try {
    assert.equal(await open('mqttv3.1'), 'mqttv3.1');
    assert.equal(await open('chat'), 'refused');
  } finally {
    await running.close();
  }
});

test('a large message crosses WebSocket frames intact', async () => {
  const { running, port } = await start('');
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, { reconnectPeriod: 0 });
  try {
    const big = 'x'.repeat(300_000);
    assert.equal(await roundTrip(client, 'ws/big', big), big);
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('MQTT.js publishes and receives over wss:// (websockets with certfile/keyfile)', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const certs = makeCertificates();
  const { running, port } = await start(`certfile ${certs.serverCert}\nkeyfile ${certs.serverKey}\n`);
  const client = await mqtt.connectAsync(`wss://127.0.0.1:${port}/mqtt`, { ca: readFileSync(certs.caCert), reconnectPeriod: 0 });
  try {
    assert.equal(await roundTrip(client, 'wss/test', 'over wss'), 'over wss');
  } finally {
    await client.endAsync();
    await running.close();
  }
});
