// PasswordFile against Mosquitto's format: the verified vector of brokers.md §2c, files written by
// Debian's mosquitto_passwd, and files written by culex passwd read by Debian's Mosquitto broker.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Logger, LogType } from '../../src/broker/logger.js';
import type { AuthenticateRequest } from '../../src/auth/port.js';
import { argon2Available, hashPassword, PasswordFile } from '../../src/auth/password-file.js';
import { main as passwd } from '../../src/cli/passwd.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { runTool } from '../helpers/processes.js';
import { needTools, toolPath } from '../helpers/tools.js';

const vector = [
  'alice:$7$101$Qlmc1EEqY+MCQfVx$L3BGHYT5u/7R1QmCU37I0PdlZU5+lNwIc1a04NvZ9W6oEzV6rCl6WW5bpngA+8KQk0+HEmVSaHsrONb8TF1LtA==',
  'bob:$6$da01nuTnFA8SZL8q$IJltzi30SMkkNdumfvOQZdeU5jo1myIki/BG3WOMyr0n8fzCs2IW3KodmdrYTdXkROqwHsUFHJ4nUDNpxnMjBg==',
];

let scratch = '';
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'culex-pwfile-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

let fileCount = 0;
function fileWith(lines: readonly string[]): string {
  const path = join(scratch, `passwd-${++fileCount}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  enabled(): boolean {
    return true;
  }
  log(_type: LogType, message: string): void {
    this.lines.push(message);
  }
}

function request(username: string | undefined, password: string | undefined, remoteAddress = '127.0.0.1:50000'): AuthenticateRequest {
  return {
    clientId: 'c1',
    username,
    password: password === undefined ? undefined : Buffer.from(password),
    remoteAddress,
    listener: 'mqtt:1883',
    connect: { type: 'connect', protocolVersion: 4, clientId: 'c1', clean: true, keepalive: 60 } as unknown as AuthenticateRequest['connect'],
  };
}

async function codeFor(file: PasswordFile, username: string | undefined, password: string | undefined, remote?: string): Promise<number> {
  return (await file.authenticate(request(username, password, remote))).reasonCode;
}

const quick = { allowAnonymous: false, failureDelayMs: 0, logger: new CapturingLogger() };

describe('password file', () => {
  test('the verified $7$ (PBKDF2-SHA512) vector accepts its password and refuses another with 0x87', async () => {
    const file = await PasswordFile.load(fileWith(vector), quick);
    assert.equal(await codeFor(file, 'alice', 's3cret'), 0);
    assert.equal(await codeFor(file, 'alice', 'S3cret'), 0x87);
  });

  test('the verified $6$ (SHA-512 of password then salt) vector accepts its password only', async () => {
    const file = await PasswordFile.load(fileWith(vector), quick);
    assert.equal(await codeFor(file, 'bob', 'hunter2'), 0);
    assert.equal(await codeFor(file, 'bob', 'hunter3'), 0x87);
  });

  test('an unknown user, a missing password and (allow_anonymous false) no username are refused with 0x87', async () => {
    const file = await PasswordFile.load(fileWith(vector), quick);
    assert.equal(await codeFor(file, 'carol', 's3cret'), 0x87);
    assert.equal(await codeFor(file, 'alice', undefined), 0x87);
    assert.equal(await codeFor(file, undefined, undefined), 0x87);
  });

  test('with allow_anonymous true a client without a username is accepted, named users still checked', async () => {
    const file = await PasswordFile.load(fileWith(vector), { ...quick, allowAnonymous: true });
    assert.equal(await codeFor(file, undefined, undefined), 0);
    assert.equal(await codeFor(file, 'alice', 'wrong'), 0x87);
  });

  test('# lines and lines without a colon are skipped; undecodable entries are dropped with a logged reason', async () => {
    const logger = new CapturingLogger();
    const file = await PasswordFile.load(
      fileWith(['# a comment:with a colon', 'no colon here', vector[0]!, 'mallory:$7$101$bad$hash', 'eve:$1$abc$def', 'nopw:']),
      { ...quick, logger },
    );
    assert.equal(file.size, 1);
    assert.equal(await codeFor(file, 'mallory', 'x'), 0x87);
    assert.equal(await codeFor(file, 'nopw', 'anything'), 0x87, 'as Mosquitto 2.0.11: an entry without a hash is removed');
    assert.equal(logger.lines.length, 3, logger.lines.join('\n'));
    assert.match(logger.lines[0]!, /Invalid password hash for user mallory .*line 4 .*removing entry/);
    assert.match(logger.lines[1]!, /user eve \(unknown hash type/);
    assert.match(logger.lines[2]!, /user nopw \(no password hash\)/);
  });

  test('$7$ hashes with any iteration count and a 64-byte salt (Mosquitto 2.1) verify', async () => {
    const hash = await hashPassword('pw', { iterations: 1000, saltLength: 64 });
    assert.match(hash, /^\$7\$1000\$/);
    const file = await PasswordFile.load(fileWith([`dan:${hash}`, `eli:${await hashPassword('pw2', { iterations: 3 })}`]), quick);
    assert.equal(await codeFor(file, 'dan', 'pw'), 0);
    assert.equal(await codeFor(file, 'eli', 'pw2'), 0);
  });

  test('hashPassword writes Mosquitto 2.0 defaults: $7$, 101 iterations, 12-byte salt, 64-byte hash', async () => {
    const [, , iterations, salt, hash] = (await hashPassword('x')).split('$');
    assert.equal(iterations, '101');
    assert.equal(Buffer.from(salt!, 'base64').length, 12);
    assert.equal(Buffer.from(hash!, 'base64').length, 64);
    assert.match(await hashPassword('x', { type: 'sha512' }), /^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  });

  test('$argon2id$ (Mosquitto 2.1): verified where Node has crypto.argon2 (>= 24.7), else dropped with a clear log line', async () => {
    // PasswordHasher(time_cost=1, memory_cost=47104, parallelism=1).hash('culex-argon') from Debian's
    // python3-argon2 (argon2-cffi), an implementation independent of Node's
    const entry = 'cy:$argon2id$v=19$m=47104,t=1,p=1$wcORJgjRAHLvLa1eSDI6Aw$yKz4KFOcGoO7ttOxHlQh5fSoWvkaDAQWalMPCDqW1Fs';
    const logger = new CapturingLogger();
    const file = await PasswordFile.load(fileWith([entry]), { ...quick, logger });
    if (argon2Available) {
      // CI's Node 24 run takes this branch
      assert.equal(file.size, 1);
      assert.equal(await codeFor(file, 'cy', 'culex-argon'), 0);
      assert.equal(await codeFor(file, 'cy', 'culex-argon2'), 0x87);
    } else {
      assert.equal(file.size, 0);
      assert.match(logger.lines[0]!, /argon2id.*Node >= 24\.7/);
    }
  });

  test('reload picks up users added to the file', async () => {
    const path = fileWith([vector[0]!]);
    const file = await PasswordFile.load(path, quick);
    assert.equal(await codeFor(file, 'bob', 'hunter2'), 0x87);
    writeFileSync(path, `${vector.join('\n')}\n`);
    await file.reload();
    assert.equal(await codeFor(file, 'bob', 'hunter2'), 0);
  });

  test('a missing file fails to load with Mosquitto-style message', async () => {
    await assert.rejects(PasswordFile.load(join(scratch, 'absent'), quick), /Unable to open pwfile ".*absent": No such file or directory/);
  });

  test('repeated failures from one address are slowed, while another address is answered at once', async () => {
    const file = await PasswordFile.load(fileWith(vector), { allowAnonymous: false, failureDelayMs: 150, maxFailureDelayMs: 1000, logger: new CapturingLogger() });
    await codeFor(file, 'alice', 'guess1', '10.0.0.1:1000');
    const started = Date.now();
    const slow = codeFor(file, 'alice', 'guess2', '10.0.0.1:1001');
    assert.equal(await codeFor(file, 'alice', 's3cret', '10.0.0.2:1000'), 0);
    const otherTook = Date.now() - started;
    assert.equal(await slow, 0x87);
    const slowTook = Date.now() - started;
    assert.ok(slowTook >= 280, `second failure answered after ${slowTook} ms, expected ≥ 300`);
    assert.ok(otherTook < 150, `other address waited ${otherTook} ms`);
  });

  test('a file made by Debian mosquitto_passwd -b is accepted', async (t) => {
    if (!needTools(t, ['mosquitto_passwd'])) return;
    const path = join(scratch, 'debian-made');
    execFileSync(toolPath('mosquitto_passwd')!, ['-c', '-b', path, 'sensor-1', 'pa ss:wörd']);
    execFileSync(toolPath('mosquitto_passwd')!, ['-H', 'sha512', '-b', path, 'recorder', 'rec']);
    const file = await PasswordFile.load(path, quick);
    assert.equal(await codeFor(file, 'sensor-1', 'pa ss:wörd'), 0);
    assert.equal(await codeFor(file, 'recorder', 'rec'), 0);
    assert.equal(await codeFor(file, 'recorder', 'rec '), 0x87);
  });

  test('a file made by culex passwd -b is accepted by Debian Mosquitto (exit 0), a wrong password refused (exit 5)', async (t) => {
    if (!needTools(t, ['mosquitto', 'mosquitto_pub'])) return;
    const path = join(scratch, 'culex-made');
    assert.equal(await passwd(['-c', '-b', path, 'alice', 's3cret']), 0);
    assert.equal(await passwd(['-H', 'sha512', '-b', path, 'bob', 'hunter2']), 0);
    const broker = await startMosquitto({ listenerLines: [`password_file ${path}`] });
    try {
      const pub = (user: string, password: string) =>
        runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-u', user, '-P', password, '-t', 't', '-m', 'm'], { timeoutMs: 10_000 });
      assert.equal((await pub('alice', 's3cret')).code, 0);
      assert.equal((await pub('bob', 'hunter2')).code, 0);
      const refused = await pub('alice', 'wrong');
      assert.equal(refused.code, 5);
      assert.match(refused.stderr, /not authori[sz]ed/);
    } finally {
      await broker.stop();
    }
  });
});
