// Third-party programs the tests drive (Debian's mosquitto and its clients): find them, and skip
// with a reason when they are missing — or fail, on CI, where a missing tool is a broken runner.
import type { TestContext } from 'node:test';
import { toolPath } from '../../bench/fanout/tool-path.js';

/** The absolute path of an executable on PATH or in the sbin directories, or undefined. */
export { toolPath };

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
