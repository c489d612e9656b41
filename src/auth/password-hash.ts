// Mosquitto's password hashes ($6$, $7$, and 2.1's $argon2id$): decode, verify without blocking the
// event loop, and create. Formats per mosquitto src/password_mosq.c @v2.0.22 (docs: brokers.md §2c).

import * as crypto from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2 = promisify(crypto.pbkdf2);
const randomBytes = promisify(crypto.randomBytes);

/** Mosquitto 2.0's defaults, which Debian's 2.0.11 reads (2.1 writes 1000 iterations and a 64-byte salt). */
export const DEFAULT_ITERATIONS = 101;
export const DEFAULT_SALT_LENGTH = 12;
const HASH_LENGTH = 64;

export type PasswordHash =
  | { readonly kind: 'sha512'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'sha512-pbkdf2'; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'argon2id'; readonly memory: number; readonly passes: number; readonly parallelism: number; readonly salt: Buffer; readonly hash: Buffer };

/** Node ≥ 24.7 has crypto.argon2; typed here because @types/node 20 does not know it. */
type Argon2 = (
  algorithm: 'argon2id',
  parameters: { message: Buffer; nonce: Buffer; parallelism: number; tagLength: number; memory: number; passes: number },
  callback: (error: Error | null, derived: Buffer) => void,
) => void;

function argon2Function(): Argon2 | undefined {
  const candidate = (crypto as unknown as { argon2?: unknown }).argon2;
  return typeof candidate === 'function' ? (candidate as Argon2) : undefined;
}

/** Whether this Node can verify Mosquitto 2.1's $argon2id$ hashes. */
export const argon2Available: boolean = argon2Function() !== undefined;

/** Standard base64 with padding, as OpenSSL's BIO writes it; undefined when not strictly that. */
function decodeBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** PHC strings drop the padding. */
function decodeBase64Unpadded(text: string): Buffer | undefined {
  if (text.length === 0 || !/^[A-Za-z0-9+/]+$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** Decodes a stored hash, or returns why it cannot be used (the caller drops the entry). */
export function decodeHash(text: string): PasswordHash | string {
  if (text.startsWith('$6$')) {
    const [, , saltText, hashText, extra] = text.split('$');
    if (extra !== undefined || saltText === undefined || hashText === undefined) return 'malformed $6$ hash';
    const salt = decodeBase64(saltText);
    const hash = decodeBase64(hashText);
    if (salt === undefined || hash === undefined) return 'invalid base64 in $6$ hash';
    if (hash.length !== HASH_LENGTH) return `$6$ hash is ${hash.length} bytes, expected ${HASH_LENGTH}`;
    return { kind: 'sha512', salt, hash };
  }
  if (text.startsWith('$7$')) {
    const [, , iterationText, saltText, hashText, extra] = text.split('$');
    if (extra !== undefined || iterationText === undefined || saltText === undefined || hashText === undefined) return 'malformed $7$ hash';
    if (!/^[1-9][0-9]{0,9}$/.test(iterationText)) return `invalid iteration count "${iterationText}"`;
    const iterations = Number(iterationText);
    if (iterations > 0x7fffffff) return `iteration count ${iterations} too large`;
    const salt = decodeBase64(saltText);
    const hash = decodeBase64(hashText);
    if (salt === undefined || hash === undefined) return 'invalid base64 in $7$ hash';
    // 2.0 writes 12-byte salts, 2.1 writes 64-byte ones; the 2.1 verifier accepts both.
    if (salt.length !== 12 && salt.length !== 64) return `$7$ salt is ${salt.length} bytes, expected 12 or 64`;
    if (hash.length !== HASH_LENGTH) return `$7$ hash is ${hash.length} bytes, expected ${HASH_LENGTH}`;
    return { kind: 'sha512-pbkdf2', iterations, salt, hash };
  }
  if (text.startsWith('$argon2id$')) {
    if (!argon2Available) return `$argon2id$ hashes need Node >= 24.7 (crypto.argon2); this is Node ${process.versions.node}`;
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(text);
    if (match === null) return 'malformed $argon2id$ hash (expected $argon2id$v=19$m=…,t=…,p=…$salt$hash)';
    const salt = decodeBase64Unpadded(match[4]!);
    const hash = decodeBase64Unpadded(match[5]!);
    if (salt === undefined || hash === undefined) return 'invalid base64 in $argon2id$ hash';
    return { kind: 'argon2id', memory: Number(match[1]), passes: Number(match[2]), parallelism: Number(match[3]), salt, hash };
  }
  return 'unknown hash type (expected $6$, $7$ or $argon2id$)';
}

function argon2(password: Buffer, stored: Extract<PasswordHash, { kind: 'argon2id' }>): Promise<Buffer> {
  const run = argon2Function()!;
  return new Promise((resolve, reject) =>
    run(
      'argon2id',
      { message: password, nonce: stored.salt, parallelism: stored.parallelism, tagLength: stored.hash.length, memory: stored.memory, passes: stored.passes },
      (error, derived) => (error ? reject(error) : resolve(derived)),
    ),
  );
}

/** The hash of password under stored's algorithm and parameters; pbkdf2/argon2 run on the thread pool. */
async function derive(password: Buffer, stored: PasswordHash): Promise<Buffer> {
  switch (stored.kind) {
    case 'sha512':
      // One SHA-512 over 64 bytes is microseconds: not worth a thread-pool hop.
      return crypto.createHash('sha512').update(password).update(stored.salt).digest();
    case 'sha512-pbkdf2':
      return pbkdf2(password, stored.salt, stored.iterations, HASH_LENGTH, 'sha512');
    case 'argon2id':
      return argon2(password, stored);
  }
}

/** Constant-time check of a password against a decoded hash. */
export async function verifyPassword(password: Buffer, stored: PasswordHash): Promise<boolean> {
  const derived = await derive(password, stored);
  return derived.length === stored.hash.length && crypto.timingSafeEqual(derived, stored.hash);
}

export interface HashOptions {
  /** mosquitto_passwd -H: 'sha512-pbkdf2' ($7$, the default) or 'sha512' ($6$). */
  readonly type?: 'sha512' | 'sha512-pbkdf2';
  /** mosquitto_passwd -I; 101 by default as Mosquitto 2.0 writes. */
  readonly iterations?: number;
  /** 12 by default (what 2.0 requires); 64 matches 2.1. */
  readonly saltLength?: 12 | 64;
}

/** A password-file hash string, readable by Mosquitto 2.0 with the default options. */
export async function hashPassword(password: string | Buffer, options: HashOptions = {}): Promise<string> {
  const bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const salt = await randomBytes(options.saltLength ?? DEFAULT_SALT_LENGTH);
  if (options.type === 'sha512') {
    const hash = await derive(bytes, { kind: 'sha512', salt, hash: Buffer.alloc(0) });
    return `$6$${salt.toString('base64')}$${hash.toString('base64')}`;
  }
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 0x7fffffff) throw new RangeError(`invalid iteration count ${iterations}`);
  const hash = await pbkdf2(bytes, salt, iterations, HASH_LENGTH, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}
