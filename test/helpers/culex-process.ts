// The built broker as users run it, `node dist/cli/culex.js broker -p PORT`, as a child process on a
// free loopback port: started and awaited until it logs "running", stopped by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findFreePort } from './ports.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli/culex.js', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CulexProcess {
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the broker has logged so far (its log goes to stderr). */
  readonly log: () => string;
  /** Resolves once the log matches; rejects after timeoutMs or if the broker exits first. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends the signal (SIGTERM by default) and waits for the exit; SIGKILL after killAfterMs. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<Exit>;
}

/** Resolves once the broker logs `ready` (by default, that it is running). */
export async function startCulexProcess(args: readonly string[] = [], timeoutMs = 10_000, ready = /culex version \S+ running/): Promise<CulexProcess> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const port = await findFreePort();
  const child = spawn(process.execPath, [cli, 'broker', '-p', String(port), ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  const chunks: Buffer[] = [];
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    for (const listener of listeners) listener();
  });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const log = (): string => Buffer.concat(chunks).toString('utf8');
  const pid = child.pid ?? 0;
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;

  const waitForLog = (pattern: RegExp, ms = 5000): Promise<void> =>
    new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (pattern.test(log())) done();
      };
      const timer = setTimeout(() => done(new Error(`culex broker did not log ${pattern} within ${ms} ms: ${log()}`)), ms);
      listeners.add(check);
      void exited.then((exit) => done(pattern.test(log()) ? undefined : new Error(`culex broker exited (${exit.code ?? exit.signal}) before logging ${pattern}: ${log()}`)));
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 5000): Promise<Exit> => {
    if (alive()) process.kill(pid, signal);
    const timer = setTimeout(() => alive() && process.kill(pid, 'SIGKILL'), killAfterMs);
    const exit = await exited;
    clearTimeout(timer);
    return exit;
  };

  try {
    await waitForLog(ready, timeoutMs);
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  return { port, pid, child, log, waitForLog, stop };
}
