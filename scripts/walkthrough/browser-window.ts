// The scenario's browser window: a real, headed Chromium (Debian's) on the recorded X display,
// placed over a region of the screen (there is no window manager), driven through the DevTools
// protocol by playwright-core — the same clicks and keystrokes a person makes, at a human pace.
// With a Debian sandbox, Chromium runs in the sandbox's network namespace, so 127.0.0.1 in the
// address bar is the sandbox's loopback, where its services listen (the X display is reached
// through its socket file, which any network namespace can open).
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sleep } from './commands.js';
import type { BrowserAction } from './scenario.js';

export interface WindowRegion {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface BrowserOptions {
  readonly display: string;
  readonly region: WindowRegion;
  /** A scratch directory (profile, launcher). */
  readonly dir: string;
  /** The network namespace to run in (a /proc/PID/ns/net path), if any. */
  readonly netns?: string;
  /** Typing speed in characters per second. */
  readonly charsPerSecond: number;
}

const chromiumPath = '/usr/bin/chromium';

export class BrowserWindow {
  private context: BrowserContext | undefined;
  private page: Page | undefined;

  constructor(private readonly options: BrowserOptions) {}

  private async open(): Promise<Page> {
    if (this.page) return this.page;
    const { dir, netns, region, display } = this.options;
    let executablePath = chromiumPath;
    if (netns) {
      // playwright talks to Chromium over inherited pipes (fds 3 and 4); nsenter keeps them.
      executablePath = join(dir, 'chromium-in-sandbox');
      writeFileSync(executablePath, `#!/bin/sh\nexec nsenter --net=${netns} -- ${chromiumPath} "$@"\n`);
      chmodSync(executablePath, 0o755);
    }
    this.context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath,
      headless: false,
      viewport: null,
      env: { ...process.env, DISPLAY: display },
      timeout: 120_000,
      args: [
        `--window-position=${region.x},${region.y}`, `--window-size=${region.width},${region.height}`,
        '--no-sandbox', '--test-type', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-quic',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=Translate',
        '--password-store=basic', '--lang=en-US',
      ],
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    return this.page;
  }

  /** Does one action; fails (and with it the recording) when its element does not come in time. */
  async run(action: BrowserAction, timeoutSeconds: number): Promise<void> {
    const timeout = timeoutSeconds * 1000;
    if (action.close) return this.close();
    const page = await this.open();
    if (action.goto !== undefined) {
      await page.goto(action.goto, { timeout });
    } else if (action.fill !== undefined) {
      const field = page.locator(action.fill);
      await field.click({ timeout });
      await field.fill('', { timeout });
      await field.pressSequentially(action.text ?? '', { delay: 1000 / this.options.charsPerSecond, timeout });
    } else if (action.click !== undefined) {
      const target = page.locator(action.click);
      await target.hover({ timeout });
      await sleep(400);
      await target.click({ timeout });
    } else if (action.waitFor !== undefined) {
      const target = action.hasText !== undefined ? page.locator(action.waitFor, { hasText: action.hasText }) : page.locator(action.waitFor);
      await target.first().waitFor({ state: 'visible', timeout });
      // What the step waited for is what the viewer should see: bring it into the window.
      await target.first().scrollIntoViewIfNeeded({ timeout });
    }
  }

  async close(): Promise<void> {
    const context = this.context;
    this.context = undefined;
    this.page = undefined;
    await context?.close().catch(() => undefined);
  }
}
