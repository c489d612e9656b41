// Log lines in Mosquitto's shape ("1700000000: New client connected from ..."), filtered by log type
// and written to every configured destination (log_dest may repeat): streams, a file, syslog or
// $SYS/broker/log topics. Each destination is a LogSink; DestinationLogger filters once for all.

import type { Logger, LogType } from '../broker/logger.js';

export const defaultLogTypes: readonly LogType[] = ['error', 'warning', 'notice', 'information'];
export const allLogTypes: readonly LogType[] = [...defaultLogTypes, 'debug', 'subscribe', 'unsubscribe'];

/** One log destination. */
export interface LogSink {
  write(type: LogType, message: string, epochSeconds: number): void;
  /** SIGHUP: reopen a file that logrotate may have moved. */
  reopen?(): void;
  /** Flushes and lets go of files, sockets and child processes. */
  close?(): void;
}

/** The line a stream or file gets: Mosquitto's default timestamp is epoch seconds. */
export function timestamped(message: string, epochSeconds: number, timestamp: boolean): string {
  return timestamp ? `${epochSeconds}: ${message}\n` : `${message}\n`;
}

/** stdout or stderr (or any stream handed in by a program embedding Culex). */
export class StreamSink implements LogSink {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly timestamp: boolean,
  ) {}
  write(_type: LogType, message: string, epochSeconds: number): void {
    this.stream.write(timestamped(message, epochSeconds, this.timestamp));
  }
}

/** The per-connection lines that Mosquitto's `connection_messages false` leaves out. */
const connectionMessage = /^(New connection from |New client connected from |Client \S+ (disconnected|closed its connection))/;

/** Filters by log type once, then hands each line to every sink. */
export class DestinationLogger implements Logger {
  private readonly types: ReadonlySet<LogType>;
  constructor(
    types: readonly LogType[],
    readonly sinks: readonly LogSink[],
    private readonly connectionMessages = true,
  ) {
    this.types = new Set(types);
  }
  enabled(type: LogType): boolean {
    return this.sinks.length > 0 && this.types.has(type);
  }
  log(type: LogType, message: string): void {
    if (!this.types.has(type)) return;
    if (!this.connectionMessages && connectionMessage.test(message)) return;
    const now = Math.floor(Date.now() / 1000);
    for (const sink of this.sinks) sink.write(type, message, now);
  }
  reopen(): void {
    for (const sink of this.sinks) sink.reopen?.();
  }
  close(): void {
    for (const sink of this.sinks) sink.close?.();
  }
}

export interface StreamLoggerOptions {
  types: readonly LogType[];
  /** Where lines go; Mosquitto's default destination is stderr. */
  stream: NodeJS.WritableStream;
  /** Prefix each line with the time, in epoch seconds as Mosquitto does by default. */
  timestamp: boolean;
}

/** A logger writing to one stream: the simplest way for a program embedding Culex to see its log. */
export class StreamLogger extends DestinationLogger {
  constructor(options: StreamLoggerOptions) {
    super(options.types, [new StreamSink(options.stream, options.timestamp)]);
  }
}
