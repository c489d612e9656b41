// Debian's Chromium, headless, driven by playwright-core, as the browser tests run it. The flags
// keep it off the network it would otherwise try at start (this machine's is closed) and out of a
// sandbox that needs privileges tests do not have.
import { chromium, type BrowserContext } from 'playwright-core';
import { toolPath } from './tools.js';

export const chromiumFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A browser with its own profile directory and a 1280×820 page, as the console screenshots use. */
export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: toolPath('chromium')!,
    headless: true,
    viewport: { width: 1280, height: 820 },
    deviceScaleFactor: 1,
    args: chromiumFlags,
  });
}
