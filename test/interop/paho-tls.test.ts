// Python paho-mqtt from Debian over TLS against `culex` listeners configured as in mosquitto.conf:
// server authentication with the CA file, and mutual TLS (require_certificate) with a client
// certificate. Certificates are made by openssl in the test; the Python side is fixtures/paho_tls.py.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, test, type TestContext } from 'node:test';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';
import { findFreePort } from '../helpers/ports.js';
import { RunningProcess } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fixtures/paho_tls.py', import.meta.url));

interface PahoTlsRun {
  errors: string[];
  connack?: number;
  tls_version?: string | null;
  message?: { topic: string; payload: string; qos: number };
}

let certs: TestCertificates | undefined;
before(() => {
  if (requireTool('openssl')) certs = makeCertificates();
});

/** Skips (or fails on CI) when Debian's python3 cannot import paho. */
function needPaho(t: TestContext): boolean {
  const probe = spawnSync(python, ['-c', 'import paho.mqtt.client'], { timeout: 10_000, encoding: 'utf8' });
  if (probe.status === 0) return true;
  const reason = `${python} cannot import paho.mqtt.client: apt-get install python3-paho-mqtt`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required on CI)`);
  t.skip(reason);
  return false;
}

async function startTls(extra: string): Promise<{ running: AssembledBroker; port: number }> {
  const port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-paho-tls-')), 'mosquitto.conf');
  const c = certs!;
  writeFileSync(file, `listener ${port} 127.0.0.1\ncertfile ${c.serverCert}\nkeyfile ${c.serverKey}\ncafile ${c.caCert}\nallow_anonymous true\n${extra}`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  return { running: await assemble(config, { logger: silentLogger }), port };
}

async function runPaho(args: string[]): Promise<PahoTlsRun> {
  const result = await new RunningProcess(python, [script, ...args], { timeoutMs: 30_000 }).result();
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as PahoTlsRun;
}

for (const version of [4, 5] as const) {
  test(`paho ${version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1'} over TLS with the CA file: connects, subscribes and gets its own QoS 1 message`, async (t) => {
    if (!needTools(t, ['openssl'], 'openssl') || !needPaho(t)) return;
    const { running, port } = await startTls('');
    try {
      const run = await runPaho([String(port), String(version), certs!.caCert]);
      assert.deepEqual(run.errors, []);
      assert.equal(run.connack, 0);
      assert.match(run.tls_version ?? '', /^TLSv1\.[23]$/);
      assert.deepEqual(run.message, { topic: `tls/paho/${version}`, payload: 'over tls from paho', qos: 1 });
    } finally {
      await running.close();
    }
  });
}

test('paho with mutual TLS: a client certificate signed by the CA is let in, none is refused in the handshake', async (t) => {
  if (!needTools(t, ['openssl'], 'openssl') || !needPaho(t)) return;
  const { running, port } = await startTls('require_certificate true\n');
  try {
    const withCert = await runPaho([String(port), '5', certs!.caCert, certs!.clientCert, certs!.clientKey]);
    assert.deepEqual(withCert.errors, []);
    assert.equal(withCert.message?.payload, 'over tls from paho');
    const without = await runPaho([String(port), '5', certs!.caCert]);
    assert.equal(without.message, undefined);
    assert.ok(without.errors.length > 0, 'refused without a client certificate');
  } finally {
    await running.close();
  }
});
