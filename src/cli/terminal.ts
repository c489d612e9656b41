// Where a client command's output goes: stdout for messages and the -d trace, stderr for errors
// (silenced by --quiet, except argument errors, as in mosquitto's err_printf / fprintf split).

export interface CliStreams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
}

export const processStreams: CliStreams = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

export class Terminal {
  #outputBroken = false;
  #onBroken: (() => void) | undefined;

  constructor(readonly streams: CliStreams, readonly quiet: boolean) {
    // A reader that went away (`culex sub | head -1`) must end the client, not crash it.
    streams.stdout.on('error', () => {
      this.#outputBroken = true;
      this.#onBroken?.();
    });
  }

  get outputBroken(): boolean {
    return this.#outputBroken;
  }

  onOutputBroken(handler: () => void): void {
    this.#onBroken = handler;
  }

  print(data: string | Uint8Array): void {
    if (!this.#outputBroken && data.length > 0) this.streams.stdout.write(data);
  }

  /** Runtime errors: hidden by --quiet. */
  error(text: string): void {
    if (!this.quiet) this.streams.stderr.write(text);
  }

  /** Argument errors and usage: always shown. */
  complain(text: string): void {
    this.streams.stderr.write(text);
  }

  /** Resolves once everything written so far has been handed to the OS. */
  async flush(): Promise<void> {
    const drain = (stream: NodeJS.WritableStream): Promise<void> =>
      new Promise((resolve) => {
        if (stream === this.streams.stdout && this.#outputBroken) return resolve();
        stream.write('', () => resolve());
      });
    await Promise.all([drain(this.streams.stdout), drain(this.streams.stderr)]);
  }
}
