// Child processes for CLI tests: culex commands (from source, through tsx) and Mosquitto's own
// clients, with captured output, every wait bounded, and kills only by our own child's PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toolPath } from './tools.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliEntry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
const builtCli = join(repoRoot, 'dist', 'cli');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Built JavaScript starts in half the CPU time of the sources through tsx, which adds up over a
 * hundred child processes; it is used only when no file under src/ is newer than the build.
 */
const useBuiltCli = ((): boolean => {
  try {
    const built = ['pub', 'sub', 'rr'].map((command) => statSync(join(builtCli, `${command}.js`)).mtimeMs);
    return newestMtime(join(repoRoot, 'src')) <= Math.min(...built);
  } catch {
    return false;
  }
})();
const builtEntry = `const [command, ...args] = process.argv.slice(1);
const { main } = await import(${JSON.stringify(pathToFileURL(builtCli).href)} + '/' + command + '.js');
process.exitCode = await main(args);`;

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

export interface StartOptions {
  /** Written to stdin, which is then closed; stdin is closed at once when absent. */
  readonly input?: string | Buffer;
  /** Kill the process (SIGKILL) if it runs longer (default 90 s); the result then has signal 'SIGKILL'. */
  readonly timeoutMs?: number;
}

export class RunningProcess {
  readonly child: ChildProcess;
  readonly #stdout: Buffer[] = [];
  readonly #stderr: Buffer[] = [];
  readonly #exit: Promise<ProcessResult>;
  readonly #listeners = new Set<() => void>();

  constructor(file: string, args: readonly string[], options: StartOptions = {}) {
    this.child = spawn(file, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.#stdout.push(chunk);
      for (const listener of this.#listeners) listener();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => this.#stderr.push(chunk));
    this.child.stdin!.on('error', () => {}); // the process may exit before reading its input
    this.child.stdin!.end(options.input ?? '');
    // The default bound is generous: on a loaded 2-core machine starting node alone can take seconds.
    const timer = setTimeout(() => this.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    this.#exit = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        clearTimeout(timer);
        const stdoutBytes = Buffer.concat(this.#stdout);
        resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stderr: this.stderr, stdoutBytes });
      });
    });
  }

  get stdout(): string {
    return Buffer.concat(this.#stdout).toString('utf8');
  }

  get stderr(): string {
    return Buffer.concat(this.#stderr).toString('utf8');
  }

  /** Resolves once stdout matches; rejects after `timeoutMs` or if the process ends first. */
  waitForStdout(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (pattern.test(this.stdout)) done();
      };
      const timer = setTimeout(
        () => done(new Error(`timed out waiting for ${pattern} in stdout: ${JSON.stringify(this.stdout)} stderr: ${JSON.stringify(this.stderr)}`)),
        timeoutMs,
      );
      this.#listeners.add(check);
      void this.#exit.then(() => done(pattern.test(this.stdout) ? undefined : new Error(`process ended before ${pattern}: ${this.stderr}`)));
      check();
    });
  }

  result(): Promise<ProcessResult> {
    return this.#exit;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      process.kill(this.child.pid, signal);
    }
  }
}

/** Starts `culex <command> …`, from dist/ when it is up to date, else from the TypeScript sources. */
export function startCulex(command: 'pub' | 'sub' | 'rr', args: readonly string[], options?: StartOptions): RunningProcess {
  const nodeArgs = useBuiltCli ? ['--input-type=module', '-e', builtEntry, '--'] : ['--import', 'tsx', cliEntry];
  return new RunningProcess(process.execPath, [...nodeArgs, command, ...args], options);
}

/** Any `culex <command> …` (ctrl, passwd, …): from dist/ when it is up to date, else through src/cli/culex.ts. */
export function runCulexCommand(command: string, args: readonly string[], options?: StartOptions): Promise<ProcessResult> {
  const nodeArgs = useBuiltCli ? ['--input-type=module', '-e', builtEntry, '--'] : ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'culex.ts')];
  return new RunningProcess(process.execPath, [...nodeArgs, command, ...args], options).result();
}

export function runCulex(command: 'pub' | 'sub' | 'rr', args: readonly string[], options?: StartOptions): Promise<ProcessResult> {
  return startCulex(command, args, options).result();
}

/**
 * Starts one of Mosquitto's programs (mosquitto_pub, mosquitto_sub, …). Their -d trace is plain
 * printf, block-buffered into a pipe, so it runs under `stdbuf -oL` when that exists.
 */
export function startTool(name: string, args: readonly string[], options?: StartOptions): RunningProcess {
  const program = toolPath(name) ?? name;
  const stdbuf = toolPath('stdbuf');
  return stdbuf ? new RunningProcess(stdbuf, ['-oL', program, ...args], options) : new RunningProcess(program, args, options);
}

export function runTool(name: string, args: readonly string[], options?: StartOptions): Promise<ProcessResult> {
  return startTool(name, args, options).result();
}

/** The -d trace lines (same wording for culex and mosquitto) removed, leaving the printed messages. */
export function withoutTrace(stdout: string): string {
  return stdout.replace(/Client \S+ (?:sending|received) [A-Z]+[^\n]*\n|Subscribed \(mid: \d+\): [^\n]*\n/g, '');
}

/** Matches once a subscriber started with -d has its SUBACK, i.e. messages published now reach it. */
export const subscribed = /Subscribed \(mid: \d+\)/;
