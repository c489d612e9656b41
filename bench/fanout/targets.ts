// The brokers the benches can start and stop by themselves, each as a child process on a free
// loopback port (pinned with taskset when possible): Culex from dist/ (and with topicAliasOut on),
// the trivial forwarder that calibrates the generator, Debian's Mosquitto (as `mosquitto -p PORT`, and
// with TCP_NODELAY) and Aedes. An already running broker is a target too, given by host and port.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pinning } from './process-stats.js';
import { toolPath } from './tool-path.js';
import { findFreePort } from './free-port.js';

export const TARGET_NAMES = ['culex', 'culex-persist', 'culex-api', 'culex-aliases', 'forwarder', 'mosquitto', 'mosquitto-nodelay', 'aedes'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface RunningTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The broker's PID when known: its CPU time and memory are then measured. */
  readonly pid: number | undefined;
  /** What ran, for the report: program, version, command line. */
  readonly description: string;
  /** The last lines the broker wrote to stderr (why it died, when it did); absent for an external broker. */
  readonly stderr?: () => string;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly pinning: Pinning;
  /** Culex only: write a V8 CPU profile (node --cpu-prof) of the broker into this directory. */
  readonly profileDir?: string | undefined;
  readonly startTimeoutMs?: number;
  /** Open-file limit (soft and hard) to start the broker with, through prlimit: for many connections. */
  readonly nofile?: number | undefined;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));


export function externalTarget(host: string, port: number, pid: number | undefined): RunningTarget {
  return { name: `${host}:${port}`, host, port, pid, description: `broker at ${host}:${port}${pid ? ` (PID ${pid})` : ''}`, stop: async () => {} };
}

export async function startTarget(name: TargetName, options: StartOptions): Promise<RunningTarget> {
  const port = await findFreePort();
  let command: string[];
  let description: string;
  let cleanup = (): void => {};
  switch (name) {
    case 'culex':
    case 'culex-persist': {
      const entry = join(repoRoot, 'dist/cli/culex.js');
      if (!existsSync(entry)) throw new Error('dist/cli/culex.js not found: run `npm run build` first');
      const stale = newerSource(entry);
      if (stale !== undefined) process.stderr.write(`warning: ${stale} is newer than dist/: run \`npm run build\` to bench the current code\n`);
      const profile = options.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.profileDir];
      command = [process.execPath, ...profile, entry, 'broker', '-p', String(port)];
      description = `culex ${packageVersion()} (node ${process.version}, dist/)`;
      if (name === 'culex-persist') {
        // persistence on, in a fresh directory on the same disk as the system's temporary files
        const dir = mkdtempSync(join(tmpdir(), 'culex-bench-persist-'));
        cleanup = () => rmSync(dir, { recursive: true, force: true });
        command.push('--persistence-location', dir);
        description += `, --persistence-location ${dir} (SQLite WAL, synchronous=FULL)`;
      }
      break;
    }
    case 'culex-api':
    case 'culex-aliases': {
      // createBroker({ topicAliasOut }) from dist/: the pair the topic-alias measurement compares.
      if (!existsSync(join(repoRoot, 'dist/index.js'))) throw new Error('dist/index.js not found: run `npm run build` first');
      const aliases = name === 'culex-aliases' ? 'on' : 'off';
      command = [process.execPath, '--import', 'tsx', join(repoRoot, 'bench/culex-aliases.ts'), '--port', String(port), '--topic-alias-out', aliases];
      description = `culex ${packageVersion()} createBroker({ topicAliasOut: ${aliases === 'on'} }) (node ${process.version}, dist/)`;
      break;
    }
    case 'forwarder':
      command = [process.execPath, '--import', 'tsx', join(repoRoot, 'bench/forwarder.ts'), '--port', String(port)];
      description = `bench/forwarder.ts (node ${process.version})`;
      break;
    case 'aedes':
      command = [process.execPath, '--import', 'tsx', join(repoRoot, 'bench/aedes-server.ts'), '--port', String(port)];
      description = `aedes ${dependencyVersion('aedes')} (node ${process.version})`;
      break;
    case 'mosquitto':
    case 'mosquitto-nodelay': {
      const binary = toolPath('mosquitto');
      if (binary === undefined) throw new Error('mosquitto not installed: apt-get install mosquitto');
      description = mosquittoVersion(binary);
      if (name === 'mosquitto') {
        command = [binary, '-p', String(port)];
        break;
      }
      // Mosquitto leaves Nagle's algorithm on unless set_tcp_nodelay is set (Culex and the forwarder
      // set TCP_NODELAY); this variant shows what that option changes.
      const dir = mkdtempSync(join(tmpdir(), 'culex-bench-mosquitto-'));
      cleanup = () => rmSync(dir, { recursive: true, force: true });
      const config = join(dir, 'mosquitto.conf');
      writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n`);
      command = [binary, '-c', config];
      description += ', set_tcp_nodelay true';
      break;
    }
  }
  const argv = [...fileLimitPrefix(options.nofile), ...options.pinning.brokerPrefix, ...command];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr.push(text);
    if (stderr.length > 50) stderr.shift(); // the last lines are enough to explain a failure
  });
  child.once('error', (error) => stderr.push(`${error.message}\n`)); // e.g. the program does not exist
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  };
  process.once('exit', killOnExit); // the bench crashed: never leave a broker behind
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    await stopChild(child, exited);
    cleanup();
  };
  try {
    await waitForPort(port, child, options.startTimeoutMs ?? 10_000, stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name,
    host: '127.0.0.1',
    port,
    pid: child.pid,
    description: `${description}: ${argv.map((a) => a.replace(repoRoot, '')).join(' ')}`,
    stderr: () => stderr.join('').replaceAll(repoRoot, ''),
    stop,
  };
}

/** SIGTERM (a graceful stop writes Culex's CPU profile), then SIGKILL after 5 s; by PID only. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  process.kill(pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 5000)));
  if (await Promise.race([exited.then(() => false), timedOut])) {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
  clearTimeout(timer);
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number, stderr: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`broker exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr.join('').trim()}`));
        return;
      }
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`broker did not listen on ${port} within ${timeoutMs} ms: ${stderr.join('').trim()}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${version} @ ${commit}`;
  } catch {
    return version;
  }
}

function dependencyVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(not installed)';
  }
}

/** `prlimit --nofile=N:N` when a limit is asked for and prlimit exists (raising the hard limit needs root). */
function fileLimitPrefix(nofile: number | undefined): string[] {
  if (nofile === undefined) return [];
  const prlimit = toolPath('prlimit');
  return prlimit === undefined ? [] : [prlimit, `--nofile=${nofile}:${nofile}`];
}

function mosquittoVersion(binary: string): string {
  // `mosquitto -h` prints "mosquitto version 2.0.11" first, and exits 3.
  let out = '';
  try {
    out = execFileSync(binary, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    out = String((error as { stdout?: string }).stdout ?? '');
  }
  return out.split('\n').find((line) => line.startsWith('mosquitto version'))?.trim() ?? 'mosquitto';
}

/** A source file modified after the build output, if any: then the bench would measure old code. */
function newerSource(builtFile: string): string | undefined {
  const builtAt = statSync(builtFile).mtimeMs;
  const walk = (dir: string): string | undefined => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = walk(path);
        if (found !== undefined) return found;
      } else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > builtAt) {
        return path.replace(repoRoot, '');
      }
    }
    return undefined;
  };
  return walk(join(repoRoot, 'src'));
}
