// `culex passwd`: manage a Mosquitto password file, with mosquitto_passwd 2.0's flags, messages and
// exit codes. Writes $7$ (PBKDF2-SHA512, 101 iterations, 12-byte salt) by default, as 2.0 does.

import { createInterface } from 'node:readline';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { hashPassword, type HashOptions } from '../auth/password-hash.js';

const usageText = `culex passwd is a tool for managing password files for mosquitto and culex.

Usage: culex passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] passwordfile username
       culex passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b passwordfile username password
       culex passwd -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier defaulted to sha512.
 -I : number of PBKDF2 iterations for sha512-pbkdf2 (default 101, what Mosquitto 2.0 writes).
 -U : update a plain text password file to use hashed passwords.
`;

const MAX_FIELD = 65535;

/** A failure with mosquitto_passwd's message and exit code. */
export class PasswdError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

interface Flags {
  batch: boolean;
  create: boolean;
  remove: boolean;
  upgrade: boolean;
  hash: HashOptions;
  positional: string[];
}

function parseFlags(argv: readonly string[]): Flags | 'usage' {
  const flags: Flags = { batch: false, create: false, remove: false, upgrade: false, hash: {}, positional: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-b') flags.batch = true;
    else if (arg === '-c') flags.create = true;
    else if (arg === '-D') flags.remove = true;
    else if (arg === '-U') flags.upgrade = true;
    else if (arg === '-H') {
      const type = argv[++i];
      if (type === undefined) throw new PasswdError('Error: -H argument given but not enough other arguments.');
      if (type !== 'sha512' && type !== 'sha512-pbkdf2') throw new PasswdError(`Error: Unknown hash type '${type}'`);
      flags.hash = { ...flags.hash, type };
    } else if (arg === '-I') {
      const value = argv[++i];
      if (value === undefined) throw new PasswdError('Error: -I argument given but not enough other arguments.');
      const iterations = Number(value);
      if (!Number.isInteger(iterations) || iterations < 1) throw new PasswdError('Error: Number of iterations must be > 0.');
      flags.hash = { ...flags.hash, iterations };
    } else if (arg === '--help' || arg === '-h') return 'usage';
    else break;
  }
  flags.positional = argv.slice(i);
  if (flags.create && flags.remove) throw new PasswdError('Error: -c and -D cannot be used together.');
  if (flags.create && flags.upgrade) throw new PasswdError('Error: -c and -U cannot be used together.');
  if (flags.remove && flags.upgrade) throw new PasswdError('Error: -D and -U cannot be used together.');
  if (flags.batch && flags.remove) throw new PasswdError('Error: -b and -D cannot be used together.');
  return flags;
}

function checkUsername(username: string): void {
  if (Buffer.byteLength(username) > MAX_FIELD) throw new PasswdError('Error: Username must be less than 65536 characters long.');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(username)) throw new PasswdError('Error: Username must not contain control characters.');
  if (username.includes(':')) throw new PasswdError("Error: Username must not contain the ':' character.");
}

function checkPassword(password: string): void {
  if (Buffer.byteLength(password) > MAX_FIELD) throw new PasswdError('Error: Password must be less than 65536 characters long.');
}

/** Reads one line from stdin: without echo from a terminal, plainly from a pipe. */
async function readSecret(prompt: string, lines: AsyncIterator<string>): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    // echo off before the prompt shows: a password typed as soon as it appears is never echoed
    stdin.setRawMode(true);
    process.stdout.write(prompt);
    try {
      return await new Promise<string>((resolve, reject) => {
        let typed = '';
        const onData = (chunk: Buffer): void => {
          for (const char of chunk.toString('utf8')) {
            if (char === '\r' || char === '\n') return finish(() => resolve(typed));
            if (char === '\u0003') return finish(() => reject(new PasswdError('', 1)));
            if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
            else typed += char;
          }
        };
        const finish = (then: () => void): void => {
          stdin.off('data', onData);
          stdin.pause();
          then();
        };
        stdin.on('data', onData);
        stdin.resume();
      });
    } finally {
      stdin.setRawMode(false);
    }
  }
  process.stdout.write(prompt);
  const next = await lines.next();
  return next.done ? '' : next.value;
}

export async function askPassword(): Promise<string> {
  const reader = process.stdin.isTTY ? undefined : createInterface({ input: process.stdin, terminal: false });
  const lines: AsyncIterator<string> = reader ? reader[Symbol.asyncIterator]() : { next: async () => ({ done: true, value: undefined }) };
  try {
    const first = await readSecret('Password: ', lines);
    if (first.length === 0) throw new PasswdError('Error: Empty password.');
    process.stdout.write('\n');
    const second = await readSecret('Reenter password: ', lines);
    process.stdout.write('\n');
    if (first !== second) throw new PasswdError('Error: Passwords do not match.', 2);
    return first;
  } finally {
    reader?.close();
  }
}

async function readLines(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (error as Error).message;
    throw new PasswdError(`Error: Unable to open password file ${path}. ${reason}.`);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Replaces the file atomically (temp file + rename), keeping its permissions. */
async function writeLines(path: string, lines: readonly string[]): Promise<void> {
  const mode = await stat(path).then(
    (s) => s.mode & 0o777,
    () => 0o666,
  );
  const temp = `${path}.tmp`;
  try {
    await writeFile(temp, lines.map((line) => `${line}\n`).join(''), { mode });
    await rename(temp, path);
  } catch (error) {
    throw new PasswdError(`Error: Unable to open file ${path} for writing. ${(error as Error).message}.`);
  }
}

function userOf(line: string): string | undefined {
  if (line.startsWith('#')) return undefined;
  const colon = line.indexOf(':');
  return colon < 0 ? undefined : line.slice(0, colon).trim();
}

async function run(flags: Flags): Promise<number> {
  const [file, username, given] = flags.positional;
  const count = flags.positional.length;
  if (flags.upgrade) {
    if (count !== 1) throw new PasswdError('Error: -U argument given but password file missing.');
    const lines = await readLines(file!);
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0 || line.startsWith('#')) {
        out.push(line);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon < 0) throw new PasswdError(`Error: Corrupt password file at line ${i + 1}.`);
      const plain = line.slice(colon + 1).replace(/\r$/, '');
      out.push(`${line.slice(0, colon)}:${await hashPassword(plain, flags.hash)}`);
    }
    await writeLines(file!, out);
    return 0;
  }
  if (flags.remove) {
    if (count !== 2) throw new PasswdError('Error: -D argument given but password file or username missing.');
    const lines = await readLines(file!);
    const kept = lines.filter((line) => userOf(line) !== username);
    if (kept.length === lines.length) {
      process.stderr.write(`Warning: User ${username} not found in password file.\n`);
      return 1;
    }
    await writeLines(file!, kept);
    return 0;
  }
  const wanted = flags.batch ? 3 : 2;
  if (count !== wanted) {
    if (flags.create) {
      throw new PasswdError(flags.batch ? 'Error: -c argument given but password file, username, or password missing.' : 'Error: -c argument given but password file or username missing.');
    }
    process.stdout.write(usageText);
    return 1;
  }
  checkUsername(username!);
  if (!flags.create) await readLines(file!); // an update needs the file to exist before asking for a password
  const password = flags.batch ? given! : await askPassword();
  checkPassword(password);
  const entry = `${username}:${await hashPassword(password, flags.hash)}`;
  if (flags.create) {
    try {
      await writeFile(file!, `${entry}\n`); // mode from the umask, as mosquitto_passwd
    } catch (error) {
      throw new PasswdError(`Error: Unable to open file ${file} for writing. ${(error as Error).message}.`);
    }
    return 0;
  }
  const lines = await readLines(file!);
  let found = false;
  const updated = lines.map((line) => {
    if (userOf(line) !== username) return line;
    found = true;
    return entry;
  });
  if (!found) updated.push(entry);
  await writeLines(file!, updated);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const flags = parseFlags(argv);
    if (flags === 'usage' || argv.length === 0) {
      process.stdout.write(usageText);
      return flags === 'usage' ? 0 : 1;
    }
    return await run(flags);
  } catch (error) {
    if (error instanceof PasswdError) {
      if (error.message) process.stderr.write(`${error.message}\n`);
      return error.code;
    }
    throw error;
  }
}
