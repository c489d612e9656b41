// TLS flags (--cafile, --capath, --cert/--key, --insecure, --tls-version, -L mqtts://) against
// Mosquitto TLS listeners, with throwaway certificates from openssl; failures compared with mosquitto_pub.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { makeCertificates } from '../helpers/certificates.js';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.js';
import { runCulex, runTool, startCulex, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';

const tools = ['mosquitto', 'mosquitto_pub', 'openssl'];
let dir = '';
let serverOnly: MosquittoBroker | undefined;
let mutual: MosquittoBroker | undefined;

before(async () => {
  if (!tools.every(requireTool)) return;
  const certificates = makeCertificates();
  dir = certificates.dir;
  // A server certificate naming only DNS:localhost, so that 127.0.0.1 is a host name mismatch.
  const [serverCert, serverKey] = certificates.issue('localhost-only', '/CN=localhost', 'DNS:localhost');
  mkdirSync(join(dir, 'capath'));
  copyFileSync(certificates.caCert, join(dir, 'capath', 'ca.pem'));
  const listener = [`cafile ${certificates.caCert}`, `certfile ${serverCert}`, `keyfile ${serverKey}`];
  [serverOnly, mutual] = await Promise.all([
    startMosquitto({ listenerLines: listener }),
    startMosquitto({ listenerLines: [...listener, 'require_certificate true'] }),
  ]);
});
after(async () => {
  await Promise.all([serverOnly?.stop(), mutual?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function ports(t: TestContext): { tls: string; mutual: string } | undefined {
  if (!needTools(t, tools, 'mosquitto mosquitto-clients openssl') || !serverOnly || !mutual) return undefined;
  return { tls: String(serverOnly.port), mutual: String(mutual.port) };
}

describe('TLS', { concurrency: 4 }, () => {
  test('--cafile with the certificate\'s host name carries messages over TLS (and --capath works too)', async (t) => {
    const p = ports(t);
    if (!p) return;
    const sub = startCulex('sub', ['-h', 'localhost', '-p', p.tls, '--cafile', join(dir, 'ca.crt'), '-t', 'tls/ok', '-C', '1', '-v', '-d']);
    await sub.waitForStdout(subscribed);
    const pub = await runCulex('pub', ['-h', 'localhost', '-p', p.tls, '--capath', join(dir, 'capath'), '-t', 'tls/ok', '-m', 'secret']);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(withoutTrace((await sub.result()).stdout), 'tls/ok secret\n');
  });

  test('a host name the certificate does not name is refused like mosquitto_pub refuses it; --insecure allows it', async (t) => {
    const p = ports(t);
    if (!p) return;
    const args = ['-h', '127.0.0.1', '-p', p.tls, '--cafile', join(dir, 'ca.crt'), '-t', 'tls/x', '-m', 'x'];
    const [culex, mosquitto, culexInsecure] = await Promise.all([
      runCulex('pub', args), runTool('mosquitto_pub', args), runCulex('pub', [...args, '--insecure']),
    ]);
    assert.deepEqual([culex.code, culex.stderr], [1, 'Unable to connect (A TLS error occurred.).\n']);
    // libmosquitto reports the same failure either way, depending on when the handshake completes.
    assert.ok(
      (mosquitto.code === 1 && mosquitto.stderr === culex.stderr) || (mosquitto.code === 8 && mosquitto.stderr === 'Error: A TLS error occurred.\n'),
      `mosquitto_pub: ${mosquitto.code} ${mosquitto.stderr}`,
    );
    assert.equal(culexInsecure.code, 0, culexInsecure.stderr);
  });

  test('-L mqtts:// trusts only the default CAs, so a private CA\'s certificate is refused', async (t) => {
    const p = ports(t);
    if (!p) return;
    const args = ['-L', `mqtts://localhost:${p.tls}/tls/url`, '-m', 'x'];
    const [culex, mosquitto] = await Promise.all([runCulex('pub', args), runTool('mosquitto_pub', args)]);
    assert.deepEqual([culex.code, culex.stderr], [1, 'Unable to connect (A TLS error occurred.).\n']);
    assert.notEqual(mosquitto.code, 0, 'mosquitto_pub refuses the certificate as well');
  });

  test('a listener that requires client certificates accepts --cert/--key', async (t) => {
    const p = ports(t);
    if (!p) return;
    const args = ['-h', 'localhost', '-p', p.mutual, '--cafile', join(dir, 'ca.crt'), '-t', 'tls/mutual', '-m', 'x', '-q', '1'];
    const withCert = await runCulex('pub', [...args, '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key')]);
    assert.equal(withCert.code, 0, withCert.stderr);
    const without = await runCulex('pub', args);
    assert.notEqual(without.code, 0);
  });

  test('plain MQTT to a TLS port, unusable TLS files and unknown TLS versions fail as in mosquitto_pub', async (t) => {
    const p = ports(t);
    if (!p) return;
    const cases = [
      ['-h', 'localhost', '-p', p.tls, '-t', 'a', '-m', 'b'],
      ['-h', 'localhost', '-p', p.tls, '--cafile', join(dir, 'missing.crt'), '-t', 'a', '-m', 'b'],
      ['-h', 'localhost', '-p', p.tls, '--cafile', join(dir, 'ca.crt'), '--tls-version', 'tlsv1.9', '-t', 'a', '-m', 'b'],
    ];
    for (const args of cases) {
      const [culex, mosquitto] = await Promise.all([runCulex('pub', args), runTool('mosquitto_pub', args)]);
      assert.deepEqual([culex.code, culex.stdout, culex.stderr], [mosquitto.code, mosquitto.stdout, mosquitto.stderr], args.join(' '));
    }
  });
});
