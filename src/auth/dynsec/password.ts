// Client passwords as the plugin stores them: PBKDF2-HMAC-SHA512 of the UTF-8 password, a 64-byte
// hash, with the salt and iteration count beside it in the JSON (base64). New passwords get a
// 12-byte random salt and 101 iterations, as Mosquitto 2.0.11's plugin makes them: it skips a
// client whose salt is longer than 12 bytes, while later versions (64-byte salts) read both.

import { pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StoredPassword } from './model.js';

export const HASH_LENGTH = 64;
/** The longest salt accepted when reading a file (later Mosquitto versions write 64 bytes). */
export const MAX_SALT_LENGTH = 64;
export const NEW_SALT_LENGTH = 12;
export const NEW_PASSWORD_ITERATIONS = 101;

/** A fresh salted hash; synchronous because commands are applied in order, and 101 rounds take well under a millisecond. */
export function newPassword(password: string, saltLength = NEW_SALT_LENGTH): StoredPassword {
  const salt = randomBytes(saltLength);
  const hash = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, NEW_PASSWORD_ITERATIONS, HASH_LENGTH, 'sha512');
  return { hash, salt, iterations: NEW_PASSWORD_ITERATIONS };
}

/** Constant-time check; runs on the thread pool, since a file may ask for many iterations. */
export function verifyPassword(password: Buffer, stored: StoredPassword): Promise<boolean> {
  return new Promise((resolve) => {
    pbkdf2(password, stored.salt, stored.iterations, HASH_LENGTH, 'sha512', (error, derived) => {
      resolve(error === null && derived.length === stored.hash.length && timingSafeEqual(derived, stored.hash));
    });
  });
}
