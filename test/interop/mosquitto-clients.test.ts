// Debian's mosquitto_pub and mosquitto_sub speaking MQTT 3.1.1 and 5.0 against a single
// `culex broker -p PORT` child process (the tests are in mosquitto-clients.suite.ts, which
// cluster-mosquitto-clients.test.ts runs against a three-node cluster); then the broker process
// itself: its loopback listeners and its exit on SIGTERM.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCulexProcess, type CulexProcess } from '../helpers/culex-process.js';
import { brokerProcess } from '../helpers/interop-target.js';
import { startTool, runTool, subscribed } from '../helpers/processes.js';
import { requireTool } from '../helpers/tools.js';
import { mosquittoClientsSuite } from './mosquitto-clients.suite.js';

mosquittoClientsSuite(brokerProcess());

describe('the culex broker process', () => {
  let broker: CulexProcess;
  before(async () => {
    broker = await startCulexProcess();
  });
  after(async () => {
    await broker?.stop('SIGTERM');
  });

  test('listens on 127.0.0.1 and [::1] on its port while it runs (ss -ltn, or netstat -ltn)', async (t) => {
    const tool = ['ss', 'netstat'].find(requireTool);
    if (tool === undefined) {
      const reason = 'neither ss nor netstat is installed: apt-get install iproute2 net-tools';
      if (process.env.CI === 'true') throw new Error(`${reason} (required on CI)`);
      t.skip(reason);
      return;
    }
    const listing = await runTool(tool, ['-ltn']);
    assert.equal(listing.code, 0, listing.stderr);
    // The fourth column is the local address in both: ss "LISTEN 0 511 127.0.0.1:P", netstat "tcp 0 0 127.0.0.1:P".
    const local = listing.stdout.split('\n').map((line) => line.trim().split(/\s+/)[3] ?? '');
    const port = String(broker.port);
    assert.ok(local.includes(`127.0.0.1:${port}`), `127.0.0.1:${port} in ${tool} -ltn:\n${listing.stdout}`);
    assert.ok(local.includes(`[::1]:${port}`) || local.includes(`::1:${port}`), `[::1]:${port} in ${tool} -ltn:\n${listing.stdout}`);
    assert.ok(!local.includes(`0.0.0.0:${port}`) && !local.includes(`*:${port}`), 'loopback only');
  });

  test('SIGTERM stops the broker with exit code 0 within 2 s, clients connected, a hung one among them', async (t) => {
    const own = await startCulexProcess();
    const clients = requireTool('mosquitto_sub')
      ? ['mqttv311', 'mqttv5', 'mqttv311'].map((version) => startTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(own.port), '-V', version, '-t', 'sigterm/#', '-d']))
      : [];
    try {
      for (const client of clients) await client.waitForStdout(subscribed);
      clients[2]?.kill('SIGSTOP'); // hung: it will never answer the broker's FIN
      if (clients.length === 0) t.diagnostic('mosquitto_sub not installed: stopping a broker without clients');
      const started = Date.now();
      const exit = await own.stop('SIGTERM', 4000);
      const took = Date.now() - started;
      t.diagnostic(`exited ${exit.code ?? exit.signal} after ${took} ms`);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(took < 2000, `exited after ${took} ms`);
      assert.match(own.log(), /terminating \(SIGTERM\)/);
    } finally {
      await own.stop('SIGKILL');
      for (const client of clients) client.kill('SIGKILL');
      await Promise.all(clients.map((client) => client.result()));
    }
  });
});
