// culex passwd: mosquitto_passwd's flags, messages and exit codes, and files both tools can read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PasswordFile } from '../../src/auth/password-file.js';
import type { AuthenticateRequest } from '../../src/auth/port.js';
import { main as passwd } from '../../src/cli/passwd.js';
import { RunningProcess } from '../helpers/processes.js';
import { needTools, toolPath } from '../helpers/tools.js';

let scratch = '';
let n = 0;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'culex-passwd-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

const fresh = (): string => join(scratch, `pw-${++n}`);
const silent = { enabled: () => false, log: () => {} };

async function accepts(path: string, username: string, password: string): Promise<boolean> {
  const file = await PasswordFile.load(path, { allowAnonymous: false, failureDelayMs: 0, logger: silent });
  const request = { clientId: 'c', username, password: Buffer.from(password), remoteAddress: '127.0.0.1:1', listener: 'l', connect: {} } as unknown as AuthenticateRequest;
  return (await file.authenticate(request)).reasonCode === 0;
}

/** Runs `culex passwd …` as a process, for the interactive prompts. */
function runPasswd(args: readonly string[], input: string) {
  return new RunningProcess(process.execPath, ['--import', 'tsx', 'src/cli/culex.ts', 'passwd', ...args], { input }).result();
}

const users = (path: string): string[] => readFileSync(path, 'utf8').trim().split('\n').map((line) => line.split(':')[0]!);

describe('culex passwd', () => {
  test('-c -b creates a file with one $7$ entry (101 iterations), -b adds and updates users', async () => {
    const path = fresh();
    assert.equal(await passwd(['-c', '-b', path, 'alice', 'a1']), 0);
    assert.match(readFileSync(path, 'utf8'), /^alice:\$7\$101\$[^$]{16}\$[^$]{88}\n$/);
    assert.equal(await passwd(['-b', path, 'bob', 'b1']), 0);
    assert.equal(await passwd(['-b', path, 'alice', 'a2']), 0);
    assert.deepEqual(users(path), ['alice', 'bob']);
    assert.equal(await accepts(path, 'alice', 'a2'), true);
    assert.equal(await accepts(path, 'alice', 'a1'), false);
  });

  test('-H sha512 writes $6$ and -I sets the PBKDF2 iteration count', async () => {
    const path = fresh();
    await passwd(['-c', '-H', 'sha512', '-b', path, 'a', 'x']);
    await passwd(['-I', '2000', '-b', path, 'b', 'y']);
    const [a, b] = readFileSync(path, 'utf8').trim().split('\n');
    assert.match(a!, /^a:\$6\$/);
    assert.match(b!, /^b:\$7\$2000\$/);
    assert.equal(await accepts(path, 'b', 'y'), true);
  });

  test('-D deletes a user; deleting an absent one warns and exits 1', async () => {
    const path = fresh();
    await passwd(['-c', '-b', path, 'a', 'x']);
    await passwd(['-b', path, 'b', 'y']);
    assert.equal(await passwd(['-D', path, 'a']), 0);
    assert.deepEqual(users(path), ['b']);
    assert.equal(await passwd(['-D', path, 'zed']), 1);
  });

  test('-U hashes a plain-text file in place', async () => {
    const path = fresh();
    writeFileSync(path, 'u1:pw1\nu2:pw2\n');
    assert.equal(await passwd(['-U', path]), 0);
    assert.equal(await accepts(path, 'u1', 'pw1'), true);
    assert.equal(await accepts(path, 'u2', 'pw2'), true);
  });

  test('conflicting flags, bad usernames and unknown hash types fail with exit 1', async () => {
    const path = fresh();
    assert.equal(await passwd(['-c', '-D', path, 'a']), 1);
    assert.equal(await passwd(['-b', '-D', path, 'a']), 1);
    assert.equal(await passwd(['-c', '-b', path, 'a:b', 'x']), 1);
    assert.equal(await passwd(['-H', 'md5', '-b', path, 'a', 'x']), 1);
    assert.equal(await passwd(['-I', '0', '-b', path, 'a', 'x']), 1);
    assert.equal(await passwd(['-b', join(scratch, 'absent'), 'a', 'x']), 1, 'updating needs an existing file');
  });

  test('without -b the password is asked twice; a mismatch prints "Error: Passwords do not match." and exits 2', async () => {
    const path = fresh();
    const ok = await runPasswd(['-c', path, 'alice'], 'secret\nsecret\n');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'Password: \nReenter password: \n');
    assert.equal(await accepts(path, 'alice', 'secret'), true);
    const mismatch = await runPasswd([path, 'alice'], 'one\ntwo\n');
    assert.equal(mismatch.code, 2);
    assert.equal(mismatch.stderr, 'Error: Passwords do not match.\n');
    const empty = await runPasswd([path, 'alice'], '\n\n');
    assert.equal(empty.code, 1);
    assert.equal(empty.stderr, 'Error: Empty password.\n');
  });

  test('from a terminal the password is read without echo: the typed password never appears on the terminal', async (t) => {
    if (!needTools(t, ['python3'], 'python3')) return;
    const path = fresh();
    // Python's pty module gives `culex passwd` a real terminal; each answer is typed only once its prompt
    // is on the screen, so a terminal left in echo mode would print it back.
    const driver = `
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b''
def until(text, limit=20.0):
    global seen
    end = time.time() + limit
    while text not in seen and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                return
            if not chunk:
                return
            seen += chunk
until(b'Password: ')
os.write(fd, b'typed-secret\\n')
until(b'Reenter password: ')
os.write(fd, b'typed-secret\\n')
until(b'never', 2.0)
_, status = os.waitpid(pid, 0)
sys.stdout.write(repr(seen) + '\\n')
sys.exit(os.waitstatus_to_exitcode(status))
`;
    const result = await new RunningProcess('python3', ['-c', driver, process.execPath, '--import', 'tsx', 'src/cli/culex.ts', 'passwd', '-c', path, 'alice'], { timeoutMs: 60_000 }).result();
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /Password: .*Reenter password: /);
    assert.doesNotMatch(result.stdout, /typed-secret/, 'the password was echoed');
    assert.equal(await accepts(path, 'alice', 'typed-secret'), true);
  });

  test('Debian mosquitto_passwd updates and verifies alongside a file culex passwd wrote', async (t) => {
    if (!needTools(t, ['mosquitto_passwd'])) return;
    const path = fresh();
    await passwd(['-c', '-b', path, 'alice', 'a1']);
    execFileSync(toolPath('mosquitto_passwd')!, ['-b', path, 'bob', 'b1']);
    await passwd(['-b', path, 'carol', 'c1']);
    assert.deepEqual(users(path), ['alice', 'bob', 'carol']);
    assert.equal(await accepts(path, 'bob', 'b1'), true);
  });
});
