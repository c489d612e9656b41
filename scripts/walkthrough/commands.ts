// Running the programs a recording is made of (tmux, ffmpeg, tesseract, ...): each call bounded
// in time, failing loudly with the program's own error output.
import { spawn, type SpawnOptions } from 'node:child_process';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions extends SpawnOptions {
  /** Kill the program and fail after this many milliseconds. Default 60 s. */
  readonly timeoutMs?: number;
  readonly input?: string;
}

/** Runs a program to completion; rejects when it exits non-zero, is killed, or times out. */
export function runCommand(program: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const { timeoutMs = 60_000, input, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${program}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
      if (code === 0) resolve(result);
      else {
        const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (over ${timeoutMs} ms?)` : ''}` : `exit code ${code}`;
        reject(new Error(`${program} ${args.join(' ')}: ${why}\n${result.stderr.trim().slice(-2000)}`));
      }
    });
    // A program that exits without reading its input must not crash the recorder with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (input) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
