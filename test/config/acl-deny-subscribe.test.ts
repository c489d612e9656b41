// Culex's acl_deny_subscribe read from a config file and seen on the wire by Mosquitto's own
// mosquitto_sub: a filter the ACL file never lets the client read is refused in SUBACK (0x80 for
// 3.1.1, 0x87 Not authorized for v5); a readable one is granted.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../helpers/ports.js';
import { startCulexBroker, waitForPort } from '../helpers/broker-process.js';
import { runTool, type RunningProcess } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';
import { readMosquittoConf, ConfigError } from '../../src/config/mosquitto-conf.js';

let dir: string;
let port: number;
let broker: RunningProcess | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'culex-acl-deny-'));
  port = await findFreePort();
  writeFileSync(join(dir, 'acl'), 'user alice\ntopic read allowed/#\n');
  writeFileSync(join(dir, 'culex.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nacl_file ${join(dir, 'acl')}\nacl_deny_subscribe true\nlog_dest none\n`);
  if (!requireTool('mosquitto_sub')) return;
  broker = startCulexBroker(['-c', join(dir, 'culex.conf')]);
  await waitForPort(port, broker);
});

after(async () => {
  if (broker !== undefined) {
    broker.kill('SIGTERM');
    await broker.result();
  }
  rmSync(dir, { recursive: true, force: true });
});

/** mosquitto_sub -E -d: subscribes, prints the SUBACK codes, and exits. */
async function subackCodes(version: 'mqttv311' | 'mqttv5', ...filters: string[]): Promise<{ codes: string; stderr: string }> {
  const args = ['-p', String(port), '-u', 'alice', '-V', version, '-E', '-d', ...filters.flatMap((f) => ['-t', f])];
  const result = await runTool('mosquitto_sub', args, { timeoutMs: 10_000 });
  assert.equal(result.code, 0, result.stderr);
  const codes = /Subscribed \(mid: \d+\): ([\d, ]+)/.exec(result.stdout)?.[1] ?? assert.fail(`no SUBACK in ${result.stdout}`);
  return { codes, stderr: result.stderr };
}

test('acl_deny_subscribe is a boolean in the config file, false by default', () => {
  const file = join(dir, 'culex.conf');
  const on = readMosquittoConf(file);
  if (on instanceof ConfigError) assert.fail(on.toString());
  assert.equal(on.aclDenySubscribe, true);
  const offFile = join(dir, 'off.conf');
  writeFileSync(offFile, 'acl_file /dev/null\n');
  const off = readMosquittoConf(offFile);
  if (off instanceof ConfigError) assert.fail(off.toString());
  assert.equal(off.aclDenySubscribe, false);
  const badFile = join(dir, 'bad.conf');
  writeFileSync(badFile, 'acl_deny_subscribe yes\n');
  const bad = readMosquittoConf(badFile);
  assert.ok(bad instanceof ConfigError);
  assert.deepEqual(bad.lines(), ['Error: Invalid acl_deny_subscribe value (yes).', `Error found at ${badFile}:1.`]);
});

test('with acl_deny_subscribe true, a 3.1.1 SUBSCRIBE to a filter the client may not read gets SUBACK 0x80', async (t) => {
  if (!needTools(t, ['mosquitto_sub'], 'mosquitto-clients')) return;
  const { codes, stderr } = await subackCodes('mqttv311', 'forbidden/x');
  assert.equal(codes, '128');
  assert.match(stderr, /All subscription requests were denied\./);
});

test('with acl_deny_subscribe true, a v5 SUBSCRIBE to a filter the client may not read gets SUBACK 0x87', async (t) => {
  if (!needTools(t, ['mosquitto_sub'], 'mosquitto-clients')) return;
  const { codes, stderr } = await subackCodes('mqttv5', 'forbidden/x');
  assert.equal(codes, '135');
  assert.match(stderr, /All subscription requests were denied\./);
});

test('with acl_deny_subscribe true, a filter the ACL lets the client read is granted, in 3.1.1 and v5', async (t) => {
  if (!needTools(t, ['mosquitto_sub'], 'mosquitto-clients')) return;
  assert.equal((await subackCodes('mqttv311', 'allowed/x')).codes, '0');
  assert.equal((await subackCodes('mqttv5', 'allowed/#')).codes, '0');
  const mixed = await subackCodes('mqttv311', 'forbidden', 'allowed/y');
  assert.equal(mixed.codes, '128, 0');
  assert.doesNotMatch(mixed.stderr, /denied/);
});
