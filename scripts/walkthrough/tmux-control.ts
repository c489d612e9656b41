// One long-lived tmux client in control mode (`tmux -C`): commands are written to its stdin and
// answered between %begin and %end lines. Typing a key costs a line on a pipe instead of a new
// process, so the typing pace holds even on a machine busy enough to take a second per spawn.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

interface Pending {
  readonly resolve: (output: string) => void;
  readonly reject: (error: Error) => void;
  readonly command: string;
}

/** Quotes one argument for tmux's command parser (single quotes, or double quotes around a "'"). */
export function quoteTmuxArgument(argument: string): string {
  if (/^[\w%@.:/=,+-]+$/.test(argument)) return argument;
  if (!argument.includes("'")) return `'${argument}'`;
  return `"${argument.replace(/[\\"$]/g, (char) => `\\${char}`)}"`;
}

export class TmuxControl {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private buffered = '';
  /** Lines of the block being received, or undefined outside a %begin/%end block. */
  private block: string[] | undefined;
  /** The first block answers the attach itself, not one of our commands. */
  private greeted: Promise<void>;
  private greet: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(socket: string, session: string, env: NodeJS.ProcessEnv) {
    this.child = spawn('tmux', ['-S', socket, '-C', 'attach', '-t', session], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.greeted = new Promise((resolve) => (this.greet = resolve));
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.receive(chunk));
    this.child.stdin.on('error', () => undefined);
    this.child.on('exit', (code) => {
      this.failure = new Error(`tmux control client exited (code ${code})`);
      for (const waiting of this.pending.splice(0)) waiting.reject(this.failure);
      this.greet?.();
    });
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline).replace(/\r$/, '');
      this.buffered = this.buffered.slice(newline + 1);
      if (this.block === undefined) {
        if (line.startsWith('%begin ')) this.block = [];
        // Anything else outside a block is a notification (%output, %layout-change, ...).
        continue;
      }
      if (line.startsWith('%end ') || line.startsWith('%error ')) {
        const output = this.block.join('\n');
        this.block = undefined;
        if (this.greet) {
          this.greet();
          this.greet = undefined;
          continue;
        }
        const waiting = this.pending.shift();
        if (!waiting) continue;
        if (line.startsWith('%end ')) waiting.resolve(output);
        else waiting.reject(new Error(`tmux ${waiting.command}: ${output}`));
      } else this.block.push(line);
    }
  }

  /** Runs one tmux command; resolves with its output. */
  async run(args: readonly string[]): Promise<string> {
    await this.greeted;
    if (this.failure) throw this.failure;
    const command = args.map(quoteTmuxArgument).join(' ');
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, command });
      this.child.stdin.write(`${command}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
  }
}
