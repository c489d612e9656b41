// SIGHUP on a running broker, as operators send it: one mosquitto.conf with a TLS listener, a
// password file (made by mosquitto_passwd) and an ACL file, run by `culex broker -c` and by Debian's
// `mosquitto -c`. While MQTT.js clients are connected over TLS, the password file loses a user and
// changes another's password, the ACL file narrows a reader, and the server certificate is replaced;
// then SIGHUP. Both brokers must answer alike: who is disconnected, who stays connected,
// what each stayed client receives, who may log in afterwards; and new connections get the new
// certificate while the open ones keep going.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import type { MqttClient } from 'mqtt';
import { startCulexBroker, waitForPort } from '../helpers/broker-process.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { startTool, type RunningProcess } from '../helpers/processes.js';
import { needTools, toolPath } from '../helpers/tools.js';

const before = { stay: 'pw-stay', gone: 'pw-gone', changed: 'pw-old', reader: 'pw-reader', writer: 'pw-writer' };
const afterwards = { stay: 'pw-stay', changed: 'pw-new', reader: 'pw-reader', writer: 'pw-writer' };
const aclBefore = 'user stay\ntopic read t/#\nuser gone\ntopic read t/#\nuser changed\ntopic read t/#\nuser reader\ntopic read t/#\nuser writer\ntopic write t/#\n';
const aclAfter = 'user stay\ntopic read t/#\nuser changed\ntopic read t/#\nuser reader\ntopic read t/public\nuser writer\ntopic write t/#\n';

interface Answers {
  /** Per connected client: "stayed", or how the broker ended it ("DISCONNECT 0x98", "closed"). */
  readonly afterReload: Record<string, string>;
  /** What each client that stayed received after the reload, in order. */
  readonly received: Record<string, string[]>;
  /** CONNECT attempts after the reload: "accepted" or the refusal code. */
  readonly logins: Record<string, string>;
  /** The open connection kept its certificate; new connections get the new one. */
  readonly certificates: { readonly openKeptOld: boolean; readonly newGetsNew: boolean };
}

function writePasswords(file: string, users: Record<string, string>): void {
  const passwd = toolPath('mosquitto_passwd') ?? 'mosquitto_passwd';
  rmSync(file, { force: true });
  for (const [index, [user, password]] of Object.entries(users).entries()) execFileSync(passwd, [...(index === 0 ? ['-c'] : []), '-b', file, user, password]);
}

const fingerprint = (client: MqttClient): string => (client.stream as TLSSocket).getPeerCertificate().fingerprint256;

async function scenario(dir: string, port: number, certs: TestCertificates, broker: RunningProcess, newCert: [string, string]): Promise<Answers> {
  const url = `mqtts://127.0.0.1:${port}`;
  const login = (user: string, password: string, protocolVersion: 4 | 5 = 5): Promise<Peer> =>
    connectPeer(url, { protocolVersion, username: user, password, ca: [readFileSync(certs.caCert)], clientId: `${user}-v${protocolVersion}-${Math.random().toString(16).slice(2, 8)}` });
  const clients: Record<string, Peer> = {
    stay: await login('stay', before.stay),
    gone: await login('gone', before.gone),
    'gone (3.1.1)': await login('gone', before.gone, 4),
    changed: await login('changed', before.changed),
    reader: await login('reader', before.reader),
  };
  const writer = await login('writer', before.writer);
  const ended: Record<string, Promise<string>> = {};
  for (const [name, peer] of Object.entries(clients)) {
    await peer.client.subscribeAsync('t/#', { qos: 1 });
    ended[name] = new Promise((resolve) => {
      let reason = 'closed';
      peer.client.on('disconnect', (packet) => (reason = `DISCONNECT 0x${(packet.reasonCode ?? 0).toString(16)}`));
      peer.client.on('close', () => resolve(reason));
    });
  }
  const oldFingerprint = fingerprint(clients.stay!.client);

  writePasswords(join(dir, 'passwd'), afterwards);
  writeFileSync(join(dir, 'acl'), aclAfter);
  copyFileSync(newCert[0], join(dir, 'server.crt'));
  copyFileSync(newCert[1], join(dir, 'server.key'));
  broker.kill('SIGHUP');

  // Those the new files no longer admit are ended; the rest still get messages, filtered by the new ACL.
  const afterReload: Record<string, string> = {};
  await Promise.all(
    Object.entries(ended).map(async ([name, end]) => {
      const outcome = await Promise.race([end, new Promise<string>((resolve) => setTimeout(() => resolve('stayed'), 5000))]);
      afterReload[name] = outcome;
    }),
  );
  const received: Record<string, string[]> = {};
  const stayed = Object.entries(clients).filter(([name]) => afterReload[name] === 'stayed');
  for (const [, peer] of stayed) peer.inbox.drain();
  // t/public last: every reader may read it, so it marks the end of what each could get (delivery is in order).
  for (const topic of ['t/secret', 't/public']) await writer.client.publishAsync(topic, 'm', { qos: 1 });
  for (const [name, peer] of stayed) {
    const seen: string[] = [];
    while (seen.at(-1) !== 't/public') seen.push((await peer.inbox.next(5000)).topic);
    received[name] = seen;
  }
  const certificates = { openKeptOld: !clients.stay!.client.stream.destroyed && fingerprint(clients.stay!.client) === oldFingerprint, newGetsNew: false };

  const logins: Record<string, string> = {};
  for (const [name, user, password] of [
    ['stay', 'stay', afterwards.stay],
    ['gone', 'gone', before.gone],
    ['changed, old password', 'changed', before.changed],
    ['changed, new password', 'changed', afterwards.changed],
  ] as const) {
    try {
      const peer = await login(user, password);
      logins[name] = 'accepted';
      if (name === 'stay') certificates.newGetsNew = fingerprint(peer.client) !== oldFingerprint;
      await endPeers(peer);
    } catch (error) {
      logins[name] = `refused ${String((error as { code?: unknown }).code)}`;
    }
  }
  await endPeers(writer, ...stayed.map(([, peer]) => peer));
  return { afterReload, received, logins, certificates };
}

async function stopBroker(broker: RunningProcess): Promise<void> {
  broker.kill('SIGTERM');
  const timer = setTimeout(() => broker.kill('SIGKILL'), 3000);
  await broker.result();
  clearTimeout(timer);
}

test('SIGHUP re-reads the password file, the ACL file and the certificate: the same clients are disconnected, kept and filtered on culex broker -c and mosquitto -c', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, ['mosquitto', 'mosquitto_passwd'])) return;
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const certs = makeCertificates();
  const answers: Answers[] = [];
  try {
    for (const start of [(file: string) => startCulexBroker(['-c', file], 90_000), (file: string) => startTool('mosquitto', ['-c', file], { timeoutMs: 90_000 })]) {
      const dir = mkdtempSync(join(tmpdir(), 'culex-sighup-'));
      try {
        const port = await findFreePort();
        copyFileSync(certs.serverCert, join(dir, 'server.crt'));
        copyFileSync(certs.serverKey, join(dir, 'server.key'));
        writePasswords(join(dir, 'passwd'), before);
        writeFileSync(join(dir, 'acl'), aclBefore);
        const lines = [`listener ${port} 127.0.0.1`, `certfile ${join(dir, 'server.crt')}`, `keyfile ${join(dir, 'server.key')}`, 'allow_anonymous false', `password_file ${join(dir, 'passwd')}`, `acl_file ${join(dir, 'acl')}`, 'log_dest none'];
        if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`); // keep mosquitto's access to the temp files
        writeFileSync(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
        const broker = start(join(dir, 'mosquitto.conf'));
        try {
          await waitForPort(port, broker);
          answers.push(await scenario(dir, port, certs, broker, certs.issue(`renewed-${answers.length}`, '/CN=localhost', 'DNS:localhost,IP:127.0.0.1')));
        } finally {
          await stopBroker(broker);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(certs.dir, { recursive: true, force: true });
  }
  const [culex, mosquitto] = answers as [Answers, Answers];
  t.diagnostic(`culex: ${JSON.stringify(culex)}`);
  t.diagnostic(`mosquitto: ${JSON.stringify(mosquitto)}`);
  // One difference, on purpose: Culex tells an MQTT 5 client why with DISCONNECT 0x98 Administrative action
  // (what Mosquitto itself sends when a plugin kicks a client); Mosquitto 2.0.11's reload just closes the socket.
  const ends = (answers: Answers): Record<string, string> => Object.fromEntries(Object.entries(answers.afterReload).map(([name, how]) => [name, how === 'stayed' ? how : 'disconnected']));
  assert.deepEqual(ends(culex), ends(mosquitto));
  assert.deepEqual({ ...culex, afterReload: {} }, { ...mosquitto, afterReload: {} });
  assert.deepEqual(culex.afterReload, { stay: 'stayed', reader: 'stayed', gone: 'DISCONNECT 0x98', 'gone (3.1.1)': 'closed', changed: 'DISCONNECT 0x98' });
  // and what the new files mean
  assert.deepEqual(culex.received, { stay: ['t/secret', 't/public'], reader: ['t/public'] });
  assert.equal(culex.logins.stay, 'accepted');
  assert.equal(culex.logins['changed, new password'], 'accepted');
  assert.deepEqual(culex.certificates, { openKeptOld: true, newGetsNew: true });
});
