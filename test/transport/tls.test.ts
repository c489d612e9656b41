// MQTT over TLS: certificates made with openssl in the test, Mosquitto's clients with --cafile
// (and --cert/--key for mutual TLS) against `culex broker -c`, MQTT.js over mqtts, certificate
// identity as username, and certificate reload without dropping connections.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools, requireTool } from '../helpers/tools.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';
import { runTool, startTool, subscribed } from '../helpers/processes.js';
import { startCulexBroker, waitForPort } from '../helpers/broker-process.js';

let certs: TestCertificates | undefined;
before(() => {
  if (requireTool('openssl')) certs = makeCertificates();
});

async function start(lines: string): Promise<{ running: AssembledBroker; port: number }> {
  const port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-tls-conf-')), 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\n${lines}`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  return { running: await assemble(config, { logger: silentLogger }), port };
}

function tlsLines(c: TestCertificates, extra = ''): string {
  return `certfile ${c.serverCert}\nkeyfile ${c.serverKey}\ncafile ${c.caCert}\nallow_anonymous true\n${extra}`;
}

/** The SHA-256 fingerprint of the certificate a TLS listener presents now. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca) }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

test('MQTT.js publishes and receives over mqtts with the CA file', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const { running, port } = await start(tlsLines(certs!));
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { ca: readFileSync(certs!.caCert), reconnectPeriod: 0 });
  try {
    await client.subscribeAsync('tls/test', { qos: 1 });
    const received = new Promise<string>((resolve) => client.on('message', (_topic, payload) => resolve(payload.toString())));
    await client.publishAsync('tls/test', 'over tls', { qos: 1 });
    assert.equal(await received, 'over tls');
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('a plain TCP client cannot talk MQTT to a TLS listener', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const { running, port } = await start(tlsLines(certs!));
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 2000 });
  try {
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', () => resolve('error'));
      client.once('close', () => resolve('closed'));
    });
    assert.notEqual(outcome, 'connected');
  } finally {
    client.end(true);
    await running.close();
  }
});

test('use_identity_as_username: the certificate CN becomes the username', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const { running, port } = await start(tlsLines(certs!, 'require_certificate true\nuse_identity_as_username true\n'));
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
    ca: readFileSync(certs!.caCert),
    cert: readFileSync(certs!.clientCert),
    key: readFileSync(certs!.clientKey),
    clientId: 'cert-client',
    username: 'ignored',
    reconnectPeriod: 0,
  });
  try {
    assert.equal(running.culex.broker.channels.get('cert-client')?.username, 'test client');
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('use_subject_as_username: the whole subject, most specific part first', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const { running, port } = await start(tlsLines(certs!, 'require_certificate true\nuse_subject_as_username true\n'));
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
    ca: readFileSync(certs!.caCert),
    cert: readFileSync(certs!.clientCert),
    key: readFileSync(certs!.clientKey),
    clientId: 'subject-client',
    reconnectPeriod: 0,
  });
  try {
    assert.equal(running.culex.broker.channels.get('subject-client')?.username, 'CN=test client,O=Culex,C=GB');
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('reload() serves a replaced certificate to new connections and keeps the open ones', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-reload-'));
  const certfile = join(dir, 'server.crt');
  const keyfile = join(dir, 'server.key');
  copyFileSync(certs!.serverCert, certfile);
  copyFileSync(certs!.serverKey, keyfile);
  const { running, port } = await start(`certfile ${certfile}\nkeyfile ${keyfile}\nallow_anonymous true\n`);
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { ca: readFileSync(certs!.caCert), reconnectPeriod: 0 });
  try {
    const before = await servedFingerprint(port, certs!.caCert);
    const [newCert, newKey] = certs!.issue('server2', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');
    copyFileSync(newCert, certfile);
    copyFileSync(newKey, keyfile);
    await running.reload();
    const after = await servedFingerprint(port, certs!.caCert);
    assert.notEqual(after, before);
    assert.equal(client.connected, true);
    await client.publishAsync('still/here', 'yes', { qos: 1 }); // the old connection still works
  } finally {
    await client.endAsync();
    await running.close();
  }
});

test('mosquitto_sub and mosquitto_pub with --cafile work against culex broker -c with an mqtts listener', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl') || !needTools(t, ['mosquitto_pub', 'mosquitto_sub'], 'mosquitto-clients')) return;
  const port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-tls-conf-')), 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\n${tlsLines(certs!)}`);
  const broker = startCulexBroker(['-c', file]);
  try {
    await waitForPort(port, broker);
    const tls = ['-h', '127.0.0.1', '-p', String(port), '--cafile', certs!.caCert];
    const sub = startTool('mosquitto_sub', [...tls, '-t', 'tls/cli', '-C', '1', '-d']);
    await sub.waitForStdout(subscribed);
    const pub = await runTool('mosquitto_pub', [...tls, '-t', 'tls/cli', '-m', 'hello tls']);
    assert.equal(pub.code, 0, pub.stderr);
    const result = await sub.result();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /hello tls/);
  } finally {
    broker.kill('SIGTERM');
    await broker.result();
  }
});

test('require_certificate: mosquitto_pub with --cert/--key is let in, without a client certificate it is refused', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl') || !needTools(t, ['mosquitto_pub'], 'mosquitto-clients')) return;
  const port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-tls-conf-')), 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\n${tlsLines(certs!, 'require_certificate true\n')}`);
  const broker = startCulexBroker(['-c', file]);
  try {
    await waitForPort(port, broker);
    const tls = ['-h', '127.0.0.1', '-p', String(port), '--cafile', certs!.caCert, '-t', 'tls/mutual', '-m', 'x'];
    const withCert = await runTool('mosquitto_pub', [...tls, '--cert', certs!.clientCert, '--key', certs!.clientKey]);
    assert.equal(withCert.code, 0, withCert.stderr);
    const withoutCert = await runTool('mosquitto_pub', tls);
    assert.notEqual(withoutCert.code, 0);
  } finally {
    broker.kill('SIGTERM');
    await broker.result();
  }
});
