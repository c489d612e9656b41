// Persistence options of mosquitto.conf and `culex broker --persistence-location`: the file is made
// where they say, a file that is not Culex's stops start-up with its name, autosave_interval is
// accepted with a notice, and without them nothing is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../helpers/ports.js';
import { runCulexBroker, startCulexBroker, waitForPort } from '../helpers/broker-process.js';
import { connectPeer } from '../helpers/mqttjs.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'culex-persist-conf-'));
}

test('persistence true + persistence_location + persistence_file: retained messages survive a restart of culex broker -c; autosave_interval gives a notice', async () => {
  const dir = tempDir();
  try {
    const port = await findFreePort();
    const conf = join(dir, 'culex.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nlog_dest stdout\npersistence true\npersistence_location ${dir}/store/\npersistence_file broker.db\nautosave_interval 60\n`);
    for (const round of [1, 2]) {
      const broker = startCulexBroker(['-c', conf]);
      try {
        await waitForPort(port, broker);
        const peer = await connectPeer(`mqtt://127.0.0.1:${port}`, { clientId: `conf-${round}` });
        if (round === 1) await peer.client.publishAsync('conf/retained', 'from round 1', { qos: 1, retain: true });
        else {
          await peer.client.subscribeAsync('conf/retained', { qos: 1 });
          assert.equal((await peer.inbox.next(5000)).payload, 'from round 1');
        }
        await peer.client.endAsync();
      } finally {
        broker.kill('SIGTERM');
      }
      const result = await broker.result();
      assert.match(result.stdout, new RegExp(`Persistence file ${dir}/store/broker\\.db`));
      assert.match(result.stdout, new RegExp(`autosave_interval \\(${conf}:7\\) has no effect`));
    }
    assert.ok(existsSync(join(dir, 'store', 'broker.db')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a persistence file that is not a Culex SQLite file stops start-up with a message naming it', async () => {
  const dir = tempDir();
  try {
    const port = await findFreePort();
    const file = join(dir, 'mosquitto.db');
    writeFileSync(file, Buffer.alloc(4096, 0xab));
    const conf = join(dir, 'culex.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nlog_dest stderr\npersistence true\npersistence_location ${dir}\npersistence_file mosquitto.db\n`);
    const result = await runCulexBroker(['-c', conf]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`Error: ${file}: not a Culex persistence file`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('culex broker --persistence-location DIR keeps culex.db there', async () => {
  const dir = tempDir();
  try {
    const port = await findFreePort();
    const location = join(dir, 'data');
    const broker = startCulexBroker(['-p', String(port), '--persistence-location', location]);
    try {
      await waitForPort(port, broker);
    } finally {
      broker.kill('SIGTERM');
    }
    const result = await broker.result();
    assert.ok(existsSync(join(location, 'culex.db')), result.stderr);

    const help = await runCulexBroker(['--help']);
    assert.match(help.stdout, /--persistence-location dir/);
    const missing = await runCulexBroker(['--persistence-location']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /--persistence-location needs a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
