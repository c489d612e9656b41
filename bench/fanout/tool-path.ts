// Finds an executable on PATH or in the sbin directories (Debian installs mosquitto as /usr/sbin/mosquitto).
// One implementation for the benchmarks and the test helpers (test/helpers/tools.ts re-exports it).

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const extraDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

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
