// Mosquitto's password_file as an Authenticator: "username:hash" lines, hashes verified off the event
// loop, refusals as Mosquitto (0x87, CONNACK 5 for v3), and failed logins slowed per remote address.

import { readFile } from 'node:fs/promises';
import type { Logger } from '../broker/logger.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from './port.js';
import { decodeHash, verifyPassword, type PasswordHash } from './password-hash.js';

export { argon2Available, decodeHash, hashPassword, verifyPassword, DEFAULT_ITERATIONS, DEFAULT_SALT_LENGTH } from './password-hash.js';
export type { HashOptions, PasswordHash } from './password-hash.js';

/** Mosquitto rejects usernames and passwords longer than an MQTT string can carry. */
const MAX_FIELD = 65535;

export interface PasswordFileOptions {
  readonly allowAnonymous: boolean;
  /** Where "removing entry" and similar lines go; stderr by default, as Mosquitto logs errors there. */
  readonly logger?: Logger;
  /** Delay added per recent failure from one address, in ms (default 200). */
  readonly failureDelayMs?: number;
  /** Upper bound of that delay, in ms (default 3000). */
  readonly maxFailureDelayMs?: number;
}

type Entries = ReadonlyMap<string, PasswordHash>;

const stderrLogger: Logger = {
  enabled: (type) => type === 'error' || type === 'warning',
  log: (type, message) => {
    if (type === 'error' || type === 'warning') process.stderr.write(`${message}\n`);
  },
};

/** Parses a password file's text like Mosquitto's pwfile__parse; bad entries are logged and dropped. */
export function parsePasswordFile(text: string, path: string, logger: Logger): Map<string, PasswordHash> {
  const entries = new Map<string, PasswordHash>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const username = line.slice(0, colon).trim();
    // The hash is the next ':'-delimited token (strtok skips empty ones).
    const hashText = line
      .slice(colon + 1)
      .split(':')
      .find((token) => token.length > 0)
      ?.trim();
    if (username.length === 0) continue;
    if (Buffer.byteLength(username) > MAX_FIELD) {
      logger.log('warning', `Warning: Invalid username in password file "${path}" line ${i + 1}, username too long.`);
      continue;
    }
    // Mosquitto 2.0 drops an entry without a usable hash ("user:" included) rather than accept any password.
    const decoded = hashText === undefined || hashText.length === 0 ? 'no password hash' : decodeHash(hashText);
    if (typeof decoded === 'string') {
      logger.log('error', `Error: Invalid password hash for user ${username} (${decoded}) at line ${i + 1} of password file "${path}", removing entry.`);
      continue;
    }
    entries.set(username, decoded);
  }
  return entries;
}

/**
 * Slows password guessing: each recent failure from an address adds a delay to that address's next
 * refusals, capped, and forgotten a minute after its last failure. Only the failing client waits.
 */
class FailureThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();
  private static readonly memoryMs = 60_000;
  private static readonly maxAddresses = 10_000;

  constructor(
    private readonly stepMs: number,
    private readonly capMs: number,
  ) {}

  /** Records a failure and returns how long its refusal should wait. */
  fail(address: string, now: number): number {
    const previous = this.failures.get(address);
    const count = previous !== undefined && now - previous.last < FailureThrottle.memoryMs ? previous.count + 1 : 1;
    this.failures.delete(address); // re-insert so the map stays in least-recently-failed order
    this.failures.set(address, { count, last: now });
    if (this.failures.size > FailureThrottle.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
    return Math.min(this.stepMs * count, this.capMs);
  }

  succeed(address: string): void {
    this.failures.delete(address);
  }
}

/** "1.2.3.4:5678" or "[::1]:5678" → the host part, so all of one machine's connections count together. */
function hostOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  if (colon <= 0) return remoteAddress;
  const host = remoteAddress.slice(0, colon);
  return host.includes('.') || host.startsWith('[') ? host : remoteAddress;
}

/** A hash verified for unknown users too, so the refusal takes as long as for a wrong password. */
const decoy = decodeHash('$7$101$Qlmc1EEqY+MCQfVx$L3BGHYT5u/7R1QmCU37I0PdlZU5+lNwIc1a04NvZ9W6oEzV6rCl6WW5bpngA+8KQk0+HEmVSaHsrONb8TF1LtA==') as PasswordHash;

const refused: AuthenticateResult = { reasonCode: ReasonCode.NotAuthorized };
const accepted: AuthenticateResult = { reasonCode: ReasonCode.Success };

export class PasswordFile implements Authenticator {
  private entries: Entries;
  private readonly throttle: FailureThrottle;
  private readonly logger: Logger;

  private constructor(
    readonly path: string,
    private readonly options: PasswordFileOptions,
    entries: Entries,
  ) {
    this.entries = entries;
    this.logger = options.logger ?? stderrLogger;
    this.throttle = new FailureThrottle(options.failureDelayMs ?? 200, options.maxFailureDelayMs ?? 3000);
  }

  static async load(path: string, options: PasswordFileOptions): Promise<PasswordFile> {
    const logger = options.logger ?? stderrLogger;
    return new PasswordFile(path, options, parsePasswordFile(await readPasswordText(path), path, logger));
  }

  /** Re-reads the file (SIGHUP); on a read error the old entries stay and the error is thrown. */
  async reload(): Promise<void> {
    this.entries = parsePasswordFile(await readPasswordText(this.path), this.path, this.logger);
  }

  /** Number of usable entries, for logs and tests. */
  get size(): number {
    return this.entries.size;
  }

  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    const username = request.username;
    if (username === undefined) {
      // As Mosquitto: no username is anonymous, decided by allow_anonymous alone.
      return this.options.allowAnonymous ? accepted : this.refuse(request);
    }
    return this.check(request, username);
  }

  private async check(request: AuthenticateRequest, username: string): Promise<AuthenticateResult> {
    const stored = this.entries.get(username);
    // The C broker sees the password up to its first NUL byte.
    const raw = request.password;
    const password = raw === undefined ? undefined : raw.subarray(0, raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0));
    const ok = await verifyPassword(password ?? Buffer.alloc(0), stored ?? decoy);
    if (stored !== undefined && password !== undefined && ok) {
      this.throttle.succeed(hostOf(request.remoteAddress));
      return accepted;
    }
    return this.refuse(request);
  }

  private async refuse(request: AuthenticateRequest): Promise<AuthenticateResult> {
    const delay = this.throttle.fail(hostOf(request.remoteAddress), Date.now());
    await new Promise((resolve) => setTimeout(resolve, delay));
    return refused;
  }
}

async function readPasswordText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : String((error as Error).message);
    throw new Error(`Unable to open pwfile "${path}": ${reason}.`);
  }
}

