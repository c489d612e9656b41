// Log lines in Mosquitto's shape ("1700000000: New client connected from ..."), filtered by log type,
// written to stdout or stderr. File and syslog destinations come with the configuration reader.

import type { Logger, LogType } from '../broker/logger.js';

export const defaultLogTypes: readonly LogType[] = ['error', 'warning', 'notice', 'information'];
export const allLogTypes: readonly LogType[] = [...defaultLogTypes, 'debug', 'subscribe', 'unsubscribe'];

export interface StreamLoggerOptions {
  types: readonly LogType[];
  /** Where lines go; Mosquitto's default destination is stderr. */
  stream: NodeJS.WritableStream;
  /** Prefix each line with the time, in epoch seconds as Mosquitto does by default. */
  timestamp: boolean;
}

export class StreamLogger implements Logger {
  private readonly types: ReadonlySet<LogType>;
  constructor(private readonly options: StreamLoggerOptions) {
    this.types = new Set(options.types);
  }
  enabled(type: LogType): boolean {
    return this.types.has(type);
  }
  log(type: LogType, message: string): void {
    if (!this.types.has(type)) return;
    const prefix = this.options.timestamp ? `${Math.floor(Date.now() / 1000)}: ` : '';
    this.options.stream.write(`${prefix}${message}\n`);
  }
}
