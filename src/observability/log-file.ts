// log_dest file PATH: lines appended to a file, opened at start (so a bad path is a start-up error,
// as in Mosquitto) and reopened on SIGHUP so that logrotate can move it away.

import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { LogType } from '../broker/logger.js';
import { timestamped, type LogSink } from './log.js';

export class FileSink implements LogSink {
  private stream: WriteStream;
  private failed = false;

  /** Throws "Unable to open log file PATH for writing." when the file cannot be opened. */
  constructor(readonly path: string) {
    this.stream = this.open();
  }

  write(_type: LogType, message: string, stamp: string): void {
    this.stream.write(`${timestamped(message, stamp)}\n`);
  }

  reopen(): void {
    let next: WriteStream;
    try {
      next = this.open();
    } catch (error) {
      process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
      return; // keep writing to the old file rather than lose lines
    }
    this.stream.end();
    this.stream = next;
  }

  close(): void {
    this.stream.end();
  }

  private open(): WriteStream {
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o640);
    } catch (error) {
      const reason = error instanceof Error && 'code' in error ? ` (${String(error.code)})` : '';
      throw new Error(`Unable to open log file ${this.path} for writing${reason}.`);
    }
    const stream = createWriteStream('', { fd, flags: 'a' }); // autoClose: the stream closes fd
    stream.on('error', (error) => {
      // a full disk must not take the broker down; say it once on stderr
      if (!this.failed) process.stderr.write(`Error: writing log file ${this.path}: ${error.message}\n`);
      this.failed = true;
    });
    return stream;
  }
}
