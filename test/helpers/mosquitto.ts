// Debian's Mosquitto broker as a test fixture: a temp config on a free loopback port, started and
// awaited until it accepts connections, stopped by PID.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './ports.js';
import { toolPath } from './tools.js';

export interface MosquittoOptions {
  /** Users for a password file made with `mosquitto_passwd -b`; turns anonymous access off. */
  readonly users?: Readonly<Record<string, string>>;
  /** Extra mosquitto.conf lines for the listener (e.g. TLS settings). */
  readonly listenerLines?: readonly string[];
}

export interface MosquittoBroker {
  readonly port: number;
  readonly pid: number;
  /** The broker's temp directory (config, password file, log). */
  readonly dir: string;
  stop(): Promise<void>;
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) return reject(new Error(`mosquitto exited with ${child.exitCode}`));
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const binary = toolPath('mosquitto');
  if (!binary) throw new Error('mosquitto not installed: apt-get install mosquitto');
  const dir = mkdtempSync(join(tmpdir(), 'culex-mosquitto-'));
  const port = await findFreePort();
  const lines = [`listener ${port} 127.0.0.1`, ...(options.listenerLines ?? [])];
  if (options.users) {
    const passwordFile = join(dir, 'passwd');
    for (const [user, password] of Object.entries(options.users)) {
      const create = Object.keys(options.users)[0] === user ? ['-c'] : [];
      execFileSync(toolPath('mosquitto_passwd') ?? 'mosquitto_passwd', [...create, '-b', passwordFile, user, password]);
    }
    lines.push('allow_anonymous false', `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  // Run as root, mosquitto would drop to user "mosquitto" and lose access to the temp files.
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  lines.push(`log_dest file ${join(dir, 'mosquitto.log')}`);
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `${lines.join('\n')}\n`);

  const child = spawn(binary, ['-c', config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, child, 5000);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pid = child.pid ?? 0;
  return {
    port,
    pid,
    dir,
    async stop() {
      if (child.exitCode === null) {
        process.kill(pid, 'SIGTERM');
        const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
