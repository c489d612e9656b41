// Client passwords as the plugin stores them: PBKDF2-HMAC-SHA512 of the UTF-8 password, a 64-byte
// hash, with the salt and iteration count beside it in the JSON (base64). New passwords get a
// 64-byte random salt and 101 iterations, as the 2.0 plugin makes them (auth.c, HASH_LEN).

import { pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StoredPassword } from './model.js';

export const HASH_LENGTH = 64;
export const MAX_SALT_LENGTH = 64;
export const NEW_PASSWORD_ITERATIONS = 101;

/** A fresh salted hash; synchronous because commands are applied in order, and 101 rounds take well under a millisecond. */
export function newPassword(password: string, saltLength = MAX_SALT_LENGTH): StoredPassword {
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
