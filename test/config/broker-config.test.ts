// A configuration file run: allow_anonymous on the wire, local-only defaults, and the
// `culex broker -c` / `--test-config` command lines and exit codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import type { CulexConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/broker/logger.js';
import { findFreePort } from '../helpers/ports.js';
import { RawClient } from '../helpers/raw-client.js';
import { runCulexBroker, startCulexBroker, waitForPort } from '../helpers/broker-process.js';

function confFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'culex-conf-')), 'mosquitto.conf');
  writeFileSync(file, text);
  return file;
}

function config(text: string): CulexConfig {
  const result = readMosquittoConf(confFile(text));
  if (result instanceof ConfigError) assert.fail(result.toString());
  return result;
}

async function connackCode(port: number, username?: string): Promise<number | undefined> {
  const client = await RawClient.open(port);
  client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId: 'anon-test', ...(username ? { username } : {}) });
  const packet = await client.next();
  client.destroy();
  return packet?.type === 'connack' ? packet.reasonCode : undefined;
}

test('with a listener and no allow_anonymous line, a client without username gets CONNACK 5', async () => {
  const port = await findFreePort();
  const running = await assemble(config(`listener ${port} 127.0.0.1\n`), { logger: silentLogger });
  try {
    assert.equal(await connackCode(port), 5);
    assert.equal(await connackCode(port, 'someone'), 0); // no password file: a username is enough, as in Mosquitto
  } finally {
    await running.close();
  }
});

test('allow_anonymous true on a listener lets a client without username in', async () => {
  const port = await findFreePort();
  const running = await assemble(config(`listener ${port} 127.0.0.1\nallow_anonymous true\n`), { logger: silentLogger });
  try {
    assert.equal(await connackCode(port), 0);
  } finally {
    await running.close();
  }
});

test('with no listener, -p ports open on loopback only and anonymous clients are allowed', async () => {
  const port = await findFreePort();
  const running = await assemble(config(''), { logger: silentLogger, ports: [port] });
  try {
    assert.deepEqual(
      running.listeners.map((l) => l.host),
      ['127.0.0.1', '::1'].slice(0, running.listeners.length),
    );
    assert.equal(await connackCode(port), 0);
  } finally {
    await running.close();
  }
});

test('-p is ignored when the configuration defines listeners', async () => {
  const [port, ignored] = [await findFreePort(), await findFreePort()];
  const running = await assemble(config(`listener ${port} 127.0.0.1\n`), { logger: silentLogger, ports: [ignored] });
  try {
    assert.deepEqual(running.listeners.map((l) => l.port), [port]);
  } finally {
    await running.close();
  }
});

test('pid_file is written at start and removed at close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-pid-'));
  const pidFile = join(dir, 'culex.pid');
  const port = await findFreePort();
  const running = await assemble(config(`listener ${port} 127.0.0.1\npid_file ${pidFile}\n`), { logger: silentLogger });
  assert.equal(readFileSync(pidFile, 'utf8'), `${process.pid}\n`);
  await running.close();
  assert.equal(existsSync(pidFile), false);
});

test('culex broker --test-config prints "Configuration file is OK." and exits 0', async () => {
  const result = await runCulexBroker(['--test-config', '-c', confFile('listener 1883\nallow_anonymous true\n')]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'Configuration file is OK.\n');
});

test('culex broker --test-config on a bad file prints the two error lines and exits 3', async () => {
  const file = confFile('listener 1883\nfoo bar\n');
  const result = await runCulexBroker(['--test-config', '-c', file]);
  assert.equal(result.code, 3);
  assert.equal(result.stderr, `Error: Unknown configuration variable "foo".\nError found at ${file}:2.\n`);
});

test('culex broker -c with a bad value exits 3 before opening any listener', async () => {
  const file = confFile('max_qos 7\n');
  const result = await runCulexBroker(['-c', file]);
  assert.equal(result.code, 3);
  assert.match(result.stderr, /^Error: Invalid max_qos value \(7\)/);
  assert.match(result.stderr, new RegExp(`Error found at ${file}:1\\.\\n$`));
});

test('culex broker -c with a password_file it cannot open logs Mosquitto\'s one error line and exits 1', async () => {
  const file = confFile(`listener ${await findFreePort()} 127.0.0.1\npassword_file ${join(tmpdir(), 'culex-no-such-passwd')}\nlog_dest stderr\n`);
  const result = await runCulexBroker(['-c', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /: Error: Unable to open pwfile ".*culex-no-such-passwd": No such file or directory\.\n/);
  assert.doesNotMatch(result.stderr, /Error: Error:/);
});

test('a SIGHUP whose password_file has gone keeps the broker running and logs one "Error: reload failed: Unable to open pwfile" line', async () => {
  const port = await findFreePort();
  const passwords = join(mkdtempSync(join(tmpdir(), 'culex-reload-')), 'passwd');
  writeFileSync(passwords, '');
  const broker = startCulexBroker(['-c', confFile(`listener ${port} 127.0.0.1\nallow_anonymous true\npassword_file ${passwords}\nlog_dest stdout\n`)]);
  try {
    await waitForPort(port, broker);
    rmSync(passwords);
    broker.kill('SIGHUP');
    await broker.waitForStdout(/reload failed/);
    assert.equal(await connackCode(port), 0, 'the broker still serves with the files it had');
  } finally {
    broker.kill('SIGTERM');
  }
  const result = await broker.result();
  assert.match(result.stdout, /: Error: reload failed: Unable to open pwfile ".*passwd": No such file or directory\.\n/);
  assert.doesNotMatch(result.stdout, /Error: Error:|failed: Error:/);
});

test('culex broker -c runs the configured listener and stops on SIGTERM', async () => {
  const port = await findFreePort();
  const broker = startCulexBroker(['-c', confFile(`listener ${port} 127.0.0.1\nallow_anonymous true\nlog_dest stdout\n`)]);
  try {
    await waitForPort(port, broker);
    assert.equal(await connackCode(port), 0);
    broker.kill('SIGHUP'); // reload must not stop the broker
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await connackCode(port), 0);
  } finally {
    broker.kill('SIGTERM');
  }
  const result = await broker.result();
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Reloading config \(SIGHUP\)/);
});
