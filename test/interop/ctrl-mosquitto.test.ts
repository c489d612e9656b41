// `culex ctrl` against Debian's mosquitto with mosquitto_dynamic_security.so: the file `culex ctrl
// dynsec init` makes is loaded by the C plugin, and the same session as test/cli/ctrl.test.ts gives
// the same answers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { needTools } from '../helpers/tools.js';
import { ctrlSession, expectedSession } from '../helpers/ctrl-session.js';

test("culex ctrl dynsec: init makes a file Mosquitto's plugin loads, and its commands manage Mosquitto", async (t) => {
  if (!needTools(t, ['mosquitto', 'mosquitto_ctrl', 'mosquitto_pub'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-ctrl-'));
  try {
    assert.deepEqual(await ctrlSession('mosquitto', dir), expectedSession);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
