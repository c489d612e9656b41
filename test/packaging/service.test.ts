// Culex as a system service, the way the operator's brief does it with Mosquitto: scripts/install.sh,
// `service culex start`, port 1883 seen with `ss -ltn` and `netstat -na | grep 1883`, publish and
// subscribe through it (mosquitto_pub/mosquitto_sub and the installed `culex pub`), the LSB status
// codes, `service culex stop` closing the port, a second start, then scripts/uninstall.sh --purge.
// It changes the machine (a user, /opt/culex, /etc/culex, port 1883), so it needs root, takes a
// machine-wide lock, and always uninstalls in its after hook. No other test may use port 1883.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { runTool, startTool, type ProcessResult } from '../helpers/processes.js';
import { requireTool } from '../helpers/tools.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const tools = ['ss', 'netstat', 'service', 'start-stop-daemon', 'mosquitto_pub', 'mosquitto_sub'];
const lockDir = join(tmpdir(), 'culex-service-test.lock');
const isRoot = process.getuid?.() === 0;
const missing = tools.filter((tool) => !requireTool(tool));

/** Why the suite cannot run here, or undefined. On CI (run as root with the tools) it must run. */
function cannotRun(): string | undefined {
  if (!isRoot) return 'the service test installs Culex system-wide and must run as root (CI runs it as root)';
  if (missing.length > 0) return `${missing.join(', ')} not installed: apt-get install iproute2 net-tools sysvinit-utils mosquitto-clients`;
  return undefined;
}
const reason = cannotRun();
if (reason !== undefined && process.env.CI === 'true') throw new Error(`${reason} (required on CI)`);
if (reason !== undefined) console.log(`# service test skipped: ${reason}`);

const sh = (command: string, timeoutMs = 90_000): Promise<ProcessResult> => runTool('sh', ['-c', command], { timeoutMs });
const service = (action: string): Promise<ProcessResult> => runTool('service', ['culex', action], { timeoutMs: 90_000 });

/** True when something listens on TCP port 1883 (any address), as `ss -ltn` shows it. */
async function listening1883(): Promise<boolean> {
  const { stdout } = await sh("ss -Hltn 'sport = :1883'");
  return stdout.trim() !== '';
}

async function waitForPort(open: boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await listening1883()) === open) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`port 1883 still ${open ? 'closed' : 'open'} after ${timeoutMs} ms`);
}

/** Fails with a clear message if port 1883 is taken: the test must not disturb another broker. */
async function assertPort1883Free(): Promise<void> {
  if (await listening1883()) assert.fail(`port 1883 is in use (${(await sh("ss -Hltnp 'sport = :1883'")).stdout.trim()}); the service test needs it free`);
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error) => reject(new Error(`port 1883 cannot be bound (${error.message}); the service test needs it free`)));
    probe.listen(1883, () => probe.close(() => resolve()));
  });
}

/** A machine-wide lock: two checkouts running their suites at once must not both install Culex. */
async function takeLock(timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      return;
    } catch {
      const holder = Number(existsSync(join(lockDir, 'pid')) ? readFileSync(join(lockDir, 'pid'), 'utf8') : '0');
      let alive = holder > 0;
      try {
        if (alive) process.kill(holder, 0);
      } catch {
        alive = false;
      }
      if (!alive && existsSync(lockDir) && Date.now() - statSync(lockDir).mtimeMs > 5000) {
        // a run killed mid-way (its file's timeout, say) never reached its after hook: clean up for it
        if (existsSync(join(lockDir, 'installed'))) await runTool(join(repoRoot, 'scripts/uninstall.sh'), ['--purge'], { timeoutMs: 90_000 });
        rmSync(lockDir, { recursive: true, force: true });
      }
      if (Date.now() > deadline) assert.fail(`${lockDir} held by pid ${holder} for ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

describe('Culex as a system service (install.sh, service culex start|stop|status, uninstall.sh)', { skip: reason }, () => {
  let locked = false;
  let installed = false;

  before(async () => {
    await takeLock();
    locked = true;
    if (existsSync('/opt/culex') || existsSync('/etc/culex')) {
      assert.fail('Culex is already installed on this machine (/opt/culex or /etc/culex): the service test would replace it; remove it with scripts/uninstall.sh --purge first');
    }
    await assertPort1883Free();
  });

  after(async () => {
    try {
      if (installed || existsSync('/opt/culex')) {
        const removed = await runTool(join(repoRoot, 'scripts/uninstall.sh'), ['--purge'], { timeoutMs: 90_000 });
        if (removed.code !== 0) console.log(`# uninstall.sh failed: ${removed.stderr}`);
      }
    } finally {
      if (locked) rmSync(lockDir, { recursive: true, force: true });
    }
  });

  test('scripts/install.sh installs /opt/culex, the culex command, the culex user, /etc/culex/culex.conf, both service definitions', async () => {
    writeFileSync(join(lockDir, 'installed'), ''); // tells a later run to uninstall if this one is killed
    const result = await runTool(join(repoRoot, 'scripts/install.sh'), [], { timeoutMs: 300_000 });
    installed = true;
    assert.equal(result.code, 0, result.stderr + result.stdout);
    for (const path of ['/opt/culex/bin/culex', '/opt/culex/dist/cli/culex.js', '/opt/culex/node_modules/mqtt', '/usr/local/bin/culex', '/etc/culex/culex.conf', '/etc/init.d/culex', '/etc/systemd/system/culex.service']) {
      assert.ok(existsSync(path), path);
    }
    assert.ok(!existsSync('/opt/culex/node_modules/typescript'), 'development dependencies are left out');
    assert.match((await sh('getent passwd culex')).stdout, /^culex:x:\d+:\d+:.*:\/var\/lib\/culex:\/usr\/sbin\/nologin$/m);
    assert.equal((await sh('stat -c %U /var/lib/culex /var/log/culex')).stdout, 'culex\nculex\n');
    assert.match((await sh('culex --version')).stdout, /^\d+\.\d+\.\d+\n$/, 'culex is on the PATH');
    assert.equal((await sh('ls /etc/rc2.d/ | grep -c culex')).stdout.trim(), '1', 'enabled at boot with update-rc.d');
    assert.match((await sh('culex broker --test-config -c /etc/culex/culex.conf')).stdout, /Configuration file is OK/);
  });

  test('systemd-analyze verify finds nothing wrong with packaging/systemd/culex.service', async (t) => {
    if (!requireTool('systemd-analyze')) return t.skip('systemd-analyze not installed (package systemd)');
    const result = await runTool('systemd-analyze', ['verify', join(repoRoot, 'packaging/systemd/culex.service')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.trim(), '');
  });

  test('service culex start: exit 0, port 1883 seen by ss -ltn and netstat -na | grep 1883, broker runs as culex', async () => {
    const started = await service('start');
    assert.equal(started.code, 0, started.stderr + started.stdout);
    await waitForPort(true);
    assert.match((await sh('ss -ltn')).stdout, /LISTEN\s+\d+\s+\d+\s+\S*:1883\s/);
    const netstat = await sh('netstat -na | grep 1883');
    assert.match(netstat.stdout, /:1883\s+\S+\s+LISTEN/);
    const status = await service('status');
    assert.equal(status.code, 0, status.stdout);
    assert.match(status.stdout, /culex is running \(pid \d+\)/);
    const pid = readFileSync('/run/culex/culex.pid', 'utf8').trim();
    assert.equal((await sh(`ps -o user= -p ${pid}`)).stdout.trim(), 'culex');
  });

  test('publish and subscribe through the service: mosquitto_sub receives from mosquitto_pub and from the installed culex pub', async () => {
    const sub = startTool('mosquitto_sub', ['-h', '127.0.0.1', '-t', 'service/#', '-C', '2', '-W', '60', '-v', '-d'], { timeoutMs: 90_000 });
    await sub.waitForStdout(/Subscribed \(mid: \d+\)/, 60_000);
    assert.equal((await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-t', 'service/mosquitto', '-m', 'from mosquitto_pub', '-q', '1'])).code, 0);
    assert.equal((await sh("culex pub -h 127.0.0.1 -t service/culex -m 'from culex pub' -q 1")).code, 0);
    const result = await sub.result();
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('service/'));
    assert.deepEqual(lines, ['service/mosquitto from mosquitto_pub', 'service/culex from culex pub']);
    // a retained reading, checked again after the restart below
    assert.equal((await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-t', 'service/retained', '-m', 'kept', '-q', '1', '-r'])).code, 0);
    const log = readFileSync('/var/log/culex/culex.log', 'utf8');
    assert.match(log, /New client connected from 127\.0\.0\.1:\d+ as \S+ \(p2, c1, k60\)\./);
    const health = await fetch('http://127.0.0.1:9234/healthz');
    assert.equal(await health.text(), 'ok\n', 'the metrics endpoint is on, on loopback');
  });

  test('service culex reload keeps the same process; restart gives a new one', async () => {
    const pid = readFileSync('/run/culex/culex.pid', 'utf8').trim();
    assert.equal((await service('reload')).code, 0);
    assert.equal(readFileSync('/run/culex/culex.pid', 'utf8').trim(), pid);
    assert.equal((await service('status')).code, 0);
    const restarted = await service('restart');
    assert.equal(restarted.code, 0, restarted.stdout + restarted.stderr);
    assert.notEqual(readFileSync('/run/culex/culex.pid', 'utf8').trim(), pid);
    await waitForPort(true);
  });

  test('service culex stop closes port 1883; status then exits 3; stop again exits 0; reload exits 7', async () => {
    const stopped = await service('stop');
    assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
    await waitForPort(false);
    // ':1883 ' alone: a broker of another test on 18830–18839 must not count
    const netstat = await sh('netstat -na | grep 1883 | grep LISTEN');
    assert.deepEqual(netstat.stdout.split('\n').filter((line) => /:1883\s/.test(line)), []);
    assert.equal((await service('status')).code, 3, 'LSB: program is not running');
    assert.equal((await service('stop')).code, 0, 'LSB: stopping a stopped service succeeds');
    assert.equal((await service('reload')).code, 7, 'LSB: program is not running');
  });

  test('service culex start again serves clients; the retained message survives when persistence is on', async (t) => {
    assert.equal((await service('start')).code, 0);
    await waitForPort(true);
    const retained = await runTool('mosquitto_sub', ['-h', '127.0.0.1', '-t', 'service/retained', '-C', '1', '-W', '5']);
    const persistence = /^persistence true/m.test(readFileSync('/etc/culex/culex.conf', 'utf8'));
    if (persistence) assert.equal(retained.stdout, 'kept\n', 'retained message after the restart');
    else t.diagnostic('persistence is off in the default configuration: retained messages do not survive a restart');
    const echo = startTool('mosquitto_sub', ['-h', '127.0.0.1', '-t', 'again', '-C', '1', '-W', '60', '-d']);
    await echo.waitForStdout(/Subscribed/, 60_000);
    await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-t', 'again', '-m', 'back']);
    assert.match((await echo.result()).stdout, /^back$/m);
  });

  test('a broker killed with SIGKILL: status exits 1 (dead, pid file left), start brings it back', async () => {
    const pid = Number(readFileSync('/run/culex/culex.pid', 'utf8'));
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    let status = await service('status');
    while (status.code === 0 && Date.now() < deadline) status = await service('status');
    assert.equal(status.code, 1, status.stdout);
    assert.equal((await service('start')).code, 0);
    await waitForPort(true);
    assert.equal((await service('status')).code, 0);
  });

  test('scripts/uninstall.sh --purge stops the broker and removes the program, configuration, data, logs and user', async () => {
    const result = await runTool(join(repoRoot, 'scripts/uninstall.sh'), ['--purge'], { timeoutMs: 90_000 });
    assert.equal(result.code, 0, result.stderr);
    installed = false;
    await waitForPort(false);
    for (const path of ['/opt/culex', '/usr/local/bin/culex', '/etc/culex', '/var/lib/culex', '/var/log/culex', '/etc/init.d/culex', '/etc/systemd/system/culex.service']) {
      assert.ok(!existsSync(path), `${path} removed`);
    }
    assert.equal((await sh('getent passwd culex')).code, 2, 'user culex removed');
    assert.equal((await sh('ls /etc/rc2.d/ | grep -c culex')).stdout.trim(), '0');
  });
});
