// End to end in a real headless Chromium (Debian's, driven by playwright-core): `culex demo` on
// free ports, the console logs in over MQTT over WebSocket, shows the sensors and a moving plot,
// and an operator changes one sensor's sampling rate; the recorder's database then shows that
// sensor's rows arriving at the new rate. UPDATE_SCREENSHOT=1 rewrites docs/console.png.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { SqliteReadings } from '../../src/fleet/sqlite-readings.js';
import type { StoredReading } from '../../src/fleet/reading-store.js';
import { startCulexCommand } from '../helpers/fleet.js';
import { launchChromium } from '../helpers/chromium.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools, toolPath } from '../helpers/tools.js';

const updateScreenshot = process.env.UPDATE_SCREENSHOT === '1';
const screenshot = fileURLToPath(new URL('../../docs/console.png', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Rows of one sensor stored after `since`, waiting (bounded) until there are at least `count`. */
async function rowsAfter(db: SqliteReadings, sensor: string, since: number, count: number, timeoutMs = 60_000): Promise<StoredReading[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await db.query({ sensor, since });
    if (rows.length >= count) return rows;
    if (Date.now() > deadline) throw new Error(`only ${rows.length} rows of ${sensor} since ${new Date(since).toISOString()}`);
    await sleep(250);
  }
}

const plotPath = (page: Page): Promise<string | null> => page.locator('#plot path.line').getAttribute('d');

test('the console in Chromium: log in, sensors online, a moving plot, a new sampling rate applied and recorded at that rate', async (t: TestContext) => {
  if (!needTools(t, ['chromium'], 'chromium')) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-console-'));
  const [port, wsPort, consolePort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  const demo = await startCulexCommand(
    'demo',
    ['--port', String(port), '--ws-port', String(wsPort), '--console-port', String(consolePort), '--sensors', updateScreenshot ? '5' : '3', '--admin-password', 'operator-secret', '--data', join(dir, 'data')],
    /Ctrl-C stops everything/,
  );
  const consoleUrl = /console +(http:\/\/\S+)/.exec(demo.stdout)![1]!;
  assert.equal(consoleUrl, `http://127.0.0.1:${consolePort}/`);
  const browser = await launchChromium(join(dir, 'profile'));
  const db = await SqliteReadings.open(join(dir, 'data', 'readings.db'));
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(consoleUrl);

    // The broker needs a login: a wrong password is refused, the right one connects.
    await page.locator('#login-user').fill('admin');
    await page.locator('#login-password').fill('wrong');
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#login-error', { hasText: 'refused' }).waitFor({ timeout: 20_000 });
    await page.locator('#login-password').fill('operator-secret');
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 20_000 });

    for (const id of ['sensor-01', 'sensor-02', 'sensor-03']) await page.locator(`.sensor-card[data-sensor="${id}"][data-online="true"]`).waitFor({ timeout: 20_000 });
    assert.match(await page.locator('.sensor-card[data-sensor="sensor-01"] .sensor-meta').innerText(), /online.*1 Hz/s);

    // The plot moves: its line changes as readings arrive.
    await page.locator('.sensor-card[data-sensor="sensor-02"]').click();
    await page.locator('#plot path.line').waitFor({ timeout: 20_000 });
    const before = await plotPath(page);
    // Polled from here rather than with page.waitForFunction, whose string predicate the console's
    // Content Security Policy (script-src 'self', no eval) rightly refuses to run.
    const deadline = Date.now() + 20_000;
    while ((await plotPath(page)) === before) {
      assert.ok(Date.now() < deadline, 'the plot did not move within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.match(await page.locator('#history-note').innerText(), /from the recorder's database/);

    // Sampling rate of sensor-02: 1 Hz → 5 Hz, through the form.
    assert.equal(await page.locator('#target').inputValue(), 'sensor-02');
    await page.locator('#rate').fill('5');
    const sentAt = Date.now();
    await page.locator('#apply').click();
    await page.locator('#apply-status[data-state="applied"]').waitFor({ timeout: 20_000 });
    assert.match(await page.locator('#apply-status').innerText(), /^Applied by sensor-02 at .*5 Hz, sensitivity 1, enabled\./);
    await page.locator('.sensor-card[data-sensor="sensor-02"] .rate', { hasText: '5 Hz' }).waitFor({ timeout: 10_000 });

    // The recorder's database: sensor-02's rows now come 200 ms apart, sensor-01's still 1 s apart.
    const fast = await rowsAfter(db, 'sensor-02', sentAt, 16);
    const slow = await rowsAfter(db, 'sensor-01', sentAt, 4);
    const gaps = (rows: StoredReading[]): number[] => rows.slice(1).map((row, i) => row.ts - rows[i]!.ts);
    const fastGap = median(gaps(fast));
    const slowGap = median(gaps(slow));
    assert.ok(fastGap >= 150 && fastGap <= 300, `sensor-02 rows ${fastGap} ms apart (5 Hz is 200 ms)`);
    assert.ok(slowGap >= 800, `sensor-01 rows ${slowGap} ms apart (1 Hz)`);
    fast.forEach((row, i) => i > 0 && assert.equal(row.seq, fast[i - 1]!.seq + 1, 'no reading missing'));
    assert.deepEqual(errors, []);

    if (updateScreenshot) {
      await sleep(15_000); // a fuller plot
      await page.screenshot({ path: screenshot });
    }
  } finally {
    await browser.close();
    await db.close();
    demo.kill('SIGTERM');
    const exit = await demo.result();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(exit.code, 0, exit.stderr);
  }
});
