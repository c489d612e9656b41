// `culex ctrl` against culex: `dynsec init` makes the file, the other dynsec commands manage the
// running broker over MQTT (the same session against Debian's mosquitto: test/interop/ctrl-mosquitto.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { needTools } from '../helpers/tools.js';
import { ctrlSession, culexCtrl, expectedSession } from '../helpers/ctrl-session.js';

test('culex ctrl dynsec: init makes a file culex loads, and its commands manage culex with the answers Mosquitto gives', async (t) => {
  if (!needTools(t, ['mosquitto_ctrl', 'mosquitto_pub'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-ctrl-'));
  try {
    assert.deepEqual(await ctrlSession('culex', dir), expectedSession);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('culex ctrl refuses bad arguments with a message, before connecting', async () => {
  const missing = await culexCtrl(['dynsec', 'addRoleACL', 'r', 'publishClientSend']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /addRoleACL: missing arguments/);
  const badType = await culexCtrl(['dynsec', 'addRoleACL', 'r', 'publishEverything', 't', 'allow']);
  assert.match(badType.stderr, /unknown acltype 'publishEverything'/);
  const unknown = await culexCtrl(['dynsec', 'frobnicate']);
  assert.match(unknown.stderr, /Command 'frobnicate' not recognised/);
  const initArgs = await culexCtrl(['dynsec', 'init']);
  assert.equal(initArgs.code, 3);
  assert.match(initArgs.stderr, /Not enough arguments/);
});
