// The "debian" machine of a scenario: a fresh Debian 12 root, so that `apt-get install mosquitto`
// really installs it and `service mosquitto stop` really closes port 1883 — inside namespaces of
// its own (network, PID, mount, UTS), so its port 1883 is not this host's and nothing it starts or
// stops touches the host's services. The base root is made once with debootstrap and kept in a
// cache directory; every recording runs on a throwaway overlay of it, so each video starts clean.
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startForwardProxy } from './apt-proxy.js';
import { runCommand, sleep } from './commands.js';

const suite = 'bookworm';
const mirror = 'http://deb.debian.org/debian';
/** The user whose shell is recorded; sudo works without a password, as on a personal machine. */
export const sandboxUser = 'aluno';
const hostname = 'debian';
const proxyPort = 3142;
const bridgeEntry = fileURLToPath(new URL('./bridge.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Run inside the base root once, after debootstrap: what a person's fresh install would have
 * (systemd is installed, as on any Debian, but it is not PID 1 here: `systemctl` says so on screen).
 */
const customize = `set -e
id ${sandboxUser} >/dev/null 2>&1 || useradd -m -s /bin/bash ${sandboxUser}
echo '${sandboxUser} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/${sandboxUser}
chmod 440 /etc/sudoers.d/${sandboxUser}
echo ${hostname} > /etc/hostname
printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t${hostname}\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' > /etc/hosts
printf 'deb ${mirror} ${suite} main\\ndeb ${mirror} ${suite}-updates main\\ndeb http://deb.debian.org/debian-security ${suite}-security main\\n' > /etc/apt/sources.list
printf 'Acquire::http::Proxy "http://127.0.0.1:${proxyPort}";\\n' > /etc/apt/apt.conf.d/01walkthrough-proxy
grep -q LANG= /home/${sandboxUser}/.bashrc || echo 'export LANG=C.UTF-8' >> /home/${sandboxUser}/.bashrc
rm -f /var/lib/apt/lists/*_* /var/cache/apt/*.bin
apt-get clean
`;

/** Makes the base root if the cache lacks it (a few minutes; needs root and debootstrap). */
export async function prepareBaseRoot(cacheDir: string, log: (line: string) => void): Promise<string> {
  const base = join(cacheDir, `debian-${suite}`);
  const stamp = join(base, '.walkthrough-ready');
  if (existsSync(stamp)) return base;
  mkdirSync(cacheDir, { recursive: true });
  if (!existsSync(base)) {
    const partial = `${base}.partial`;
    rmSync(partial, { recursive: true, force: true });
    log(`debootstrap ${suite} into ${partial} (once; a few minutes)`);
    await runCommand('debootstrap', ['--variant=minbase', '--include=sudo,net-tools,procps,systemd', suite, partial, mirror], { timeoutMs: 30 * 60_000 });
    renameSync(partial, base);
  }
  await runCommand('chroot', [base, '/bin/sh', '-c', customize], { timeoutMs: 120_000 });
  await runCommand('touch', [stamp]);
  return base;
}

export interface Sandbox {
  /** The command a pane runs to get a login shell inside the sandbox. */
  readonly shell: readonly string[];
  /** The sandbox's root directory as the host sees it (through its PID 1's /proc entry). */
  readonly root: string;
  /** Its network namespace, for a host program that must reach its loopback (e.g. a browser). */
  readonly netns: string;
  stop(): Promise<void>;
}

function childPid(parent: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
    return children ? Number(children.split(' ')[0]) : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Starts the namespaces on a fresh overlay of the base root; resolves once a shell can enter. */
export async function startSandbox(base: string): Promise<Sandbox> {
  const work = mkdtempSync('/tmp/culex-walkthrough-');
  const [upper, scratch, root] = ['upper', 'work', 'root'].map((name) => join(work, name));
  for (const dir of [upper, scratch, root]) mkdirSync(dir);
  const proxySocket = join(work, 'proxy.sock');
  const proxy: Server = await startForwardProxy(proxySocket);
  // PID 1 of the namespace is a bash loop: it reaps the daemons that `service` starts and leaves.
  const init = `set -e
ip link set lo up
hostname ${hostname}
mount -t overlay overlay -o lowerdir=${base},upperdir=${upper},workdir=${scratch} ${root}
mount -t proc proc ${root}/proc
mount --rbind /dev ${root}/dev
mount -t tmpfs -o mode=755 tmpfs ${root}/run
mount -t tmpfs -o mode=1777 tmpfs ${root}/tmp
${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(bridgeEntry)} ${proxyPort} ${proxySocket} &
i=0; until ss -ltn | grep -q 127.0.0.1:${proxyPort}; do i=$((i+1)); [ $i -lt 300 ] || exit 1; sleep 0.1; done
exec chroot ${root} /bin/bash -c 'while :; do sleep 3600 & wait $!; done'
`;
  const unshare: ChildProcess = spawn('unshare', ['--net', '--pid', '--mount', '--uts', '--ipc', '--fork', '--propagation', 'private', 'sh', '-c', init], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let pid: number | undefined;
  for (let attempt = 0; attempt < 300; attempt++) {
    if (unshare.exitCode !== null) break;
    const candidate = unshare.pid ? childPid(unshare.pid) : undefined;
    try {
      if (candidate && readlinkSync(`/proc/${candidate}/root`) === root) {
        pid = candidate;
        break;
      }
    } catch {
      // not there yet
    }
    await sleep(100);
  }
  const stop = async (): Promise<void> => {
    // Killing PID 1 of a PID namespace kills everything in it; the mounts go with the namespace.
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    else if (unshare.pid && unshare.exitCode === null) unshare.kill('SIGKILL');
    for (let attempt = 0; attempt < 100 && ((pid !== undefined && alive(pid)) || unshare.exitCode === null); attempt++) await sleep(100);
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  };
  if (pid === undefined) {
    await stop();
    throw new Error('the Debian sandbox did not start (needs root, unshare, overlayfs)');
  }
  const shell = ['nsenter', '--target', String(pid), '--net', '--pid', '--mount', '--uts', '--ipc', '--root', '--wd', '--', '/bin/su', '-', sandboxUser];
  return { shell, root: `/proc/${pid}/root`, netns: `/proc/${pid}/ns/net`, stop };
}
