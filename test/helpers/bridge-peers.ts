// Brokers for bridge tests: Culex run in this process from a mosquitto.conf text (so a test can read
// its bridges' state), and Debian's Mosquitto on a chosen loopback port, so that a test can stop a
// remote and start it again where the bridge expects it. Everything is stopped by the test, by PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import type { Logger } from '../../src/broker/logger.js';
import { toolPath } from './tools.js';

export interface RunningBroker {
  readonly port: number;
  /** What the broker logged so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface CulexFromConf extends RunningBroker {
  readonly assembled: AssembledBroker;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'culex-bridge-'));
}

/** Waits until something accepts connections on the port; rejects after timeoutMs or when `failed()` says so. */
export function waitForPort(port: number, timeoutMs = 5000, failed: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const why = failed();
      if (why !== undefined) return reject(new Error(why));
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listened on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/** Culex assembled from a mosquitto.conf text whose listener is on `port`. */
export async function startCulexConf(port: number, text: string): Promise<CulexFromConf> {
  const dir = tempDir();
  const file = join(dir, 'culex.conf');
  writeFileSync(file, text);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) throw new Error(config.toString());
  const lines: string[] = [];
  const logger: Logger = { enabled: () => true, log: (type, message) => void lines.push(`${type}: ${message}`) };
  const assembled = await assemble(config, { logger });
  return {
    port,
    assembled,
    log: () => lines.join('\n'),
    async stop() {
      await assembled.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's mosquitto with these config lines (a listener on `port` is added first). */
export async function startMosquittoConf(port: number, configLines: readonly string[]): Promise<RunningBroker> {
  const binary = toolPath('mosquitto');
  if (binary === undefined) throw new Error('mosquitto not installed: apt-get install mosquitto');
  const dir = tempDir();
  const logFile = join(dir, 'mosquitto.log');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `log_dest file ${logFile}`, 'log_type all', ...configLines];
  // Run as root, mosquitto would drop to user "mosquitto" and lose access to the temp files.
  if (process.getuid?.() === 0) lines.unshift(`user ${userInfo().username}`);
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child = spawn(binary, ['-c', config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid ?? 0;
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 5000, () => (child.exitCode !== null ? `mosquitto exited with ${child.exitCode}: ${log()}` : undefined));
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, log, stop };
}

/** Polls until `check` returns true, at most timeoutMs. */
export async function eventually(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
