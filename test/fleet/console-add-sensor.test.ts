// "Add a sensor" in a real headless Chromium (Debian's, driven by playwright-core) on `culex demo`:
// the operator adds sensor s42 with a generated password shown once; the page's commands go to
// $CONTROL/dynamic-security/v1 over MQTT over WebSocket. Then MQTT.js, logged in as s42 with that
// password, publishes a reading that the demo's recorder stores, cannot publish as another sensor,
// receives its orders, and a wrong password is refused. Bad ids are refused before sending, and
// adding s42 again shows Mosquitto's error string. Disable, Enable and Delete in the list work on
// the real login.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { BrowserContext, Page } from 'playwright-core';
import { SqliteReadings } from '../../src/fleet/sqlite-readings.js';
import { startCulexCommand } from '../helpers/fleet.js';
import { Inbox } from '../helpers/mqttjs.js';
import { launchChromium } from '../helpers/chromium.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools, toolPath } from '../helpers/tools.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fills the id, submits, and returns the status line once this try (data-attempt) has finished.
 * Polled from here: the page's CSP (no eval) refuses page.waitForFunction's string predicates.
 */
async function submit(page: Page, id: string, timeoutMs = 30_000): Promise<{ state: string; text: string }> {
  const status = page.locator('#add-sensor-status');
  const attempt = Number((await status.getAttribute('data-attempt')) ?? 0) + 1;
  await page.locator('#new-sensor-id').fill(id);
  await page.locator('#add-sensor-button').click();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await status.getAttribute('data-state')) ?? '';
    if (Number(await status.getAttribute('data-attempt')) === attempt && state !== 'working') return { state, text: await status.innerText() };
    assert.ok(Date.now() < deadline, `try ${attempt} (${id}) did not finish within ${timeoutMs} ms`);
    await sleep(200);
  }
}

test('the console adds sensor s42 through dynamic security in Chromium; s42 then writes only sensor_data/s42 (stored by the recorder) and reads config_change/s42; disable, enable, delete', async (t: TestContext) => {
  if (!needTools(t, ['chromium'], 'chromium')) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-add-sensor-'));
  const [port, wsPort, consolePort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  const demo = await startCulexCommand(
    'demo',
    ['--port', String(port), '--ws-port', String(wsPort), '--console-port', String(consolePort), '--sensors', '2', '--admin-password', 'operator-secret', '--data', join(dir, 'data')],
    /Ctrl-C stops everything/,
  );
  const consoleUrl = /console +(http:\/\/\S+)/.exec(demo.stdout)![1]!;
  const browser = await launchChromium(join(dir, 'profile'));
  const db = await SqliteReadings.open(join(dir, 'data', 'readings.db'));
  const clients: MqttClient[] = [];
  const login = async (username: string, password: string): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 15_000 });
    clients.push(client);
    return client;
  };
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${consoleUrl}#add-sensor`);
    await page.locator('#login-user').fill('admin');
    await page.locator('#login-password').fill('operator-secret');
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 30_000 });
    await page.locator('#add-sensor-view').waitFor({ state: 'visible', timeout: 10_000 });

    // The demo's own sensors are listed from listClients.
    await page.locator('#dynsec-sensors tr[data-sensor="sensor-02"]').waitFor({ timeout: 30_000 });

    // Ids that are not one plain topic level are refused before anything is sent.
    for (const bad of ['a/b', 's+', '#', 'all']) {
      const { state, text } = await submit(page, bad);
      assert.equal(state, 'invalid', bad);
      assert.match(text, /^Not sent: (invalid sensor id|'all' is reserved)/, bad);
    }

    // s42 with a generated password, shown once.
    const added = await submit(page, 's42');
    assert.equal(added.state, 'added', added.text);
    assert.match(added.text, /^Sensor s42 added: username s42; it may write sensor_data\/s42 and sensor_status\/s42 and read config_change\/s42 and config_change\/all\.$/);
    const password = await page.locator('#new-sensor-password').innerText();
    assert.match(password, /^[A-Za-z0-9_-]{20}$/);
    assert.equal(await page.locator('#new-sensor-credentials').innerText(), `s42:${password}`);
    await page.locator('#dynsec-sensors tr[data-sensor="s42"]').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#dynsec-sensors tr[data-sensor="s42"]').innerText(), /s42\s+s42\s+enabled\s+never seen/);

    // The same id again: Mosquitto's error string, and nothing changed.
    const again = await submit(page, 's42');
    assert.equal(again.state, 'failed');
    assert.equal(again.text, 'Not added: createRole sensor:s42: Role already exists (a sensor with this id exists).');
    assert.equal(await page.locator('#new-sensor-secret').isHidden(), true, 'no password shown for a sensor not added');

    // An existing username under a new id: refused, and the new role taken back.
    await page.locator('#new-sensor-user').fill('sensor-01');
    const taken = await submit(page, 's43');
    assert.equal(taken.state, 'failed');
    assert.equal(taken.text, 'Not added: createClient sensor-01: Client already exists.');

    // s42 as a real client, with the password the page showed.
    const s42 = await login('s42', password);
    const orders = new Inbox(s42);
    await s42.subscribeAsync('config_change/s42', { qos: 1 });
    const reading = (seq: number, sensor = 's42'): string => JSON.stringify({ sensor, ts: Date.now(), value: 21.5, unit: '°C', seq });
    const forged = await s42.publishAsync('sensor_data/other', reading(1, 'other'), { qos: 1 }).then(
      (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
      (error: { code?: number }) => error.code ?? -1,
    );
    assert.equal(forged, 0x87, 'sensor_data/other refused');
    await s42.publishAsync('sensor_data/s42', reading(1), { qos: 1 });
    await s42.publishAsync('sensor_data/s42', reading(2), { qos: 1 });
    const deadline = Date.now() + 30_000;
    while ((await db.query({ sensor: 's42' })).length < 2) {
      assert.ok(Date.now() < deadline, "s42's readings did not reach the recorder's database");
      await sleep(250);
    }
    assert.deepEqual((await db.query({ sensor: 's42' })).map((row) => row.seq), [1, 2]);
    assert.deepEqual(await db.query({ sensor: 'other' }), [], 'the forged reading was not delivered');

    const admin = await login('admin', 'operator-secret');
    await admin.publishAsync('config_change/s42', '{"sampleRateHz": 2}', { qos: 1 });
    const order = await orders.next(20_000);
    assert.deepEqual([order.topic, order.payload], ['config_change/s42', '{"sampleRateHz": 2}']);

    await assert.rejects(login('s42', 'wrong-password'), /Not authorized|Bad User Name or Password/i);

    // Disable: s42 is disconnected at once and refused until Enable.
    const row = page.locator('#dynsec-sensors tr[data-sensor="s42"]');
    const kicked = new Promise<void>((resolve) => s42.once('close', () => resolve()));
    await row.locator('button[data-action="disable"]').click();
    await Promise.race([kicked, sleep(30_000).then(() => assert.fail('s42 was not disconnected within 30 s'))]);
    await page.locator('#dynsec-sensors tr[data-sensor="s42"][data-login="disabled"]').waitFor({ timeout: 30_000 });
    await assert.rejects(login('s42', password), /Not authorized|Bad User Name or Password/i);
    await row.locator('button[data-action="enable"]').click();
    await page.locator('#dynsec-sensors tr[data-sensor="s42"][data-login="enabled"]').waitFor({ timeout: 30_000 });
    await login('s42', password);

    // Delete takes a second click; then the login is gone.
    await row.locator('button[data-action="delete"]').click();
    assert.equal(await row.count(), 1, 'one click deletes nothing');
    await row.locator('button[data-action="confirm-delete"]').click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    assert.match(await page.locator('#dynsec-sensors-note').innerText(), /^Delete s42: done\. 2 sensors with a sensor role/);
    await assert.rejects(login('s42', password), /Not authorized|Bad User Name or Password/i);
    assert.deepEqual(errors, []);
  } finally {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await browser.close();
    await db.close();
    demo.kill('SIGTERM');
    const exit = await demo.result();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(exit.code, 0, exit.stderr);
  }
});
