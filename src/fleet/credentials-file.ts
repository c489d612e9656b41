// Per-sensor logins for `culex sensors --credentials FILE`: lines "sensor-id:password", '#' comments.
// The demo writes one (mode 0600) beside its password file so its sensors can be run on their own.

import { readFileSync } from 'node:fs';

export function parseCredentials(text: string, path: string): Map<string, string> | string {
  const logins = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return `${path} line ${i + 1}: expected "sensor-id:password"`;
    logins.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return logins;
}

export function readCredentials(path: string): Map<string, string> | string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return parseCredentials(text, path);
}

export function formatCredentials(logins: ReadonlyMap<string, string>): string {
  return `# sensor-id:password, read by culex sensors --credentials\n${[...logins].map(([id, password]) => `${id}:${password}\n`).join('')}`;
}
