// docs/BRIDGE.md's edge-to-central example, run as written (paths, ports and the central host name
// substituted): the site forwards sensor_data up over TLS, the console's config_change messages come
// down, the ACL keeps the site to its own topics, with Culex and Mosquitto at the central end and
// with Mosquitto running the site's file.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';
import { eventually, startCulexConf, startMosquittoConf, type RunningBroker } from '../helpers/bridge-peers.js';

const doc = readFileSync(fileURLToPath(new URL('../../docs/BRIDGE.md', import.meta.url)), 'utf8');

/** The first fenced block after the line naming `name`. */
function block(name: string): string {
  const at = doc.indexOf(`(\`${name}\`)`);
  assert.ok(at >= 0, `docs/BRIDGE.md names ${name}`);
  const match = /```\w*\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(match, `a block after ${name}`);
  return match[1]!;
}

interface Setup {
  readonly certs: TestCertificates;
  readonly centralPort: number;
  readonly sitePort: number;
  readonly central: string;
  readonly site: string;
}

async function setup(): Promise<Setup> {
  const certs = makeCertificates();
  const [siteCert, siteKey] = certs.issue('site-north', '/CN=site-north');
  certs.issue('console', '/CN=console');
  const centralPort = await findFreePort();
  const sitePort = await findFreePort();
  const acl = join(certs.dir, 'central.acl');
  writeFileSync(acl, block('central.acl'));
  const paths = (text: string): string =>
    text
      .replaceAll('/etc/culex/ca.crt', certs.caCert)
      .replaceAll('/etc/culex/central.crt', certs.serverCert)
      .replaceAll('/etc/culex/central.key', certs.serverKey)
      .replaceAll('/etc/culex/site-north.crt', siteCert)
      .replaceAll('/etc/culex/site-north.key', siteKey)
      .replaceAll('/etc/culex/central.acl', acl);
  // the test server certificate names localhost, standing for central.example.com
  const central = paths(block('central.conf')).replace('listener 8883', `listener ${centralPort} 127.0.0.1`);
  const site = paths(block('site.conf')).replace('listener 1883', `listener ${sitePort} 127.0.0.1`).replace('central.example.com:8883', `localhost:${centralPort}`);
  return { certs, centralPort, sitePort, central, site };
}

async function run(s: Setup, centralKind: 'culex' | 'mosquitto', siteKind: 'culex' | 'mosquitto'): Promise<void> {
  const withoutListener = (text: string): string[] => text.split('\n').filter((line) => line !== '' && !line.startsWith('listener ') && !line.startsWith('allow_anonymous'));
  const central: RunningBroker = centralKind === 'culex' ? await startCulexConf(s.centralPort, s.central) : await startMosquittoConf(s.centralPort, withoutListener(s.central));
  let site: RunningBroker | undefined;
  let console_: Peer | undefined;
  let device: Peer | undefined;
  try {
    const tls = { ca: readFileSync(s.certs.caCert), cert: readFileSync(join(s.certs.dir, 'console.crt')), key: readFileSync(join(s.certs.dir, 'console.key')) };
    console_ = await connectPeer(`mqtts://localhost:${s.centralPort}`, tls);
    await console_.client.subscribeAsync(['fleet/#', '$SYS/broker/connection/#'], { qos: 1 });
    site = siteKind === 'culex' ? await startCulexConf(s.sitePort, s.site) : await startMosquittoConf(s.sitePort, withoutListener(s.site));
    await eventually(() => console_!.inbox.drain().some((m) => m.topic === '$SYS/broker/connection/site-north/state' && m.payload === '1'), 15_000, `the site's bridge up (${site.log()} ${central.log()})`);

    device = await connectPeer(`mqtt://127.0.0.1:${s.sitePort}`);
    await device.client.subscribeAsync('config_change/#', { qos: 1 });
    await eventually(() => device!.inbox.size > 0 || (void console_!.client.publish('fleet/site-north/config_change/probe', 'p', { qos: 1 }), false), 10_000, 'config changes coming down');
    await new Promise((resolve) => setTimeout(resolve, 300));
    device.inbox.drain();
    console_.inbox.drain();

    await device.client.publishAsync('sensor_data/greenhouse/temp', '21.5', { qos: 1 });
    const up = await console_.inbox.next(5000);
    assert.deepEqual([up.topic, up.payload], ['fleet/site-north/sensor_data/greenhouse/temp', '21.5']);

    await console_.client.publishAsync('fleet/site-south/config_change/rate', 'not for north', { qos: 1 });
    await console_.client.publishAsync('fleet/all/config_change/rate', '5', { qos: 1 });
    await console_.client.publishAsync('fleet/site-north/config_change/mode', 'eco', { qos: 1 });
    const down = await device.inbox.take(2, 5000);
    assert.deepEqual(down.map((m) => [m.topic, m.payload]).sort(), [
      ['config_change/mode', 'eco'],
      ['config_change/rate', '5'],
    ]);
    assert.ok(await device.inbox.nothingWithin(300), "another site's changes do not come down");
  } finally {
    await endPeers(console_, device);
    await site?.stop();
    await central.stop();
  }
}

for (const [centralKind, siteKind] of [
  ['culex', 'culex'],
  ['mosquitto', 'culex'],
  ['culex', 'mosquitto'],
] as const) {
  test(`docs/BRIDGE.md example over TLS: ${siteKind} site, ${centralKind} central`, async (t: TestContext) => {
    if (!needTools(t, ['openssl', ...(centralKind === 'mosquitto' || siteKind === 'mosquitto' ? ['mosquitto'] : [])], 'openssl mosquitto')) return;
    await run(await setup(), centralKind, siteKind);
  });
}
