// Third-party programs the tests drive (Debian's mosquitto and its clients): find them, and skip
// with a reason when they are missing — or fail, on CI, where a missing tool is a broken runner.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** sbin directories are searched too: Debian installs the broker as /usr/sbin/mosquitto. */
const extraDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The absolute path of an executable, or undefined. */
export function toolPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether a program exists on this machine. */
export function requireTool(name: string): boolean {
  return toolPath(name) !== undefined;
}

/**
 * True when every tool exists. Otherwise skips the test, printing which Debian package to install,
 * or fails it when CI=true.
 */
export function needTools(t: TestContext, names: readonly string[], debianPackage = 'mosquitto mosquitto-clients'): boolean {
  const missing = names.filter((name) => !requireTool(name));
  if (missing.length === 0) return true;
  const reason = `${missing.join(', ')} not installed: apt-get install ${debianPackage}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required on CI)`);
  t.skip(reason);
  return false;
}
