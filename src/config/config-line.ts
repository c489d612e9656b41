// One line of a mosquitto.conf and the values read from it, with Mosquitto 2.0's rules (src/conf.c):
// the option name ends at the first space, string values may hold spaces, booleans are
// true/false/1/0, integers are checked against their range. A bad value refuses the line with
// Mosquitto's message; the reader adds the file and line.

import type { SourceLocation } from './config.js';

/** A configuration problem, printed as `Error: <message>` then `Error found at <file>:<line>.` */
export class ConfigError {
  constructor(
    readonly message: string,
    readonly location?: SourceLocation,
  ) {}

  /** The lines Mosquitto prints for the same problem. */
  lines(): string[] {
    const first = `Error: ${this.message}`;
    return this.location === undefined ? [first] : [first, `Error found at ${this.location.file}:${this.location.line}.`];
  }

  toString(): string {
    return this.lines().join('\n');
  }
}

/** Thrown inside the reader only; readMosquittoConf returns it as a value. */
export class Refusal extends Error {}

/** Mosquitto's include_dir order: alphabetical ignoring case, upper case before lower case on a tie. */
export function includeOrder(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Line {
  private rest: string;
  constructor(
    readonly option: string,
    rest: string,
    readonly location: SourceLocation,
  ) {
    this.rest = rest;
  }

  fail(message: string): never {
    throw new Refusal(message);
  }

  /** The rest of the line, blanks trimmed: string options may contain spaces. */
  string(): string {
    const value = this.rest.replace(/^[ \t]+|[ \t]+$/g, '');
    if (value === '') this.fail(`Empty ${this.option} value in configuration.`);
    return value;
  }

  /** The next space-separated token, or undefined. */
  token(): string | undefined {
    const match = /^ *([^ ]+)(.*)$/s.exec(this.rest);
    if (match === null) return undefined;
    this.rest = match[2]!;
    return match[1]!;
  }

  requiredToken(): string {
    return this.token() ?? this.fail(`Empty ${this.option} value in configuration.`);
  }

  bool(): boolean {
    const token = this.requiredToken();
    if (token === 'true' || token === '1') return true;
    if (token === 'false' || token === '0') return false;
    return this.fail(`Invalid ${this.option} value (${token}).`);
  }

  int(min: number, max: number): number {
    const token = this.requiredToken();
    const value = /^-?\d+$/.test(token) ? Number(token) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) this.fail(`Invalid ${this.option} value (${token}); must be an integer from ${min} to ${max}.`);
    return value;
  }
}
