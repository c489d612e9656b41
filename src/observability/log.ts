// Log lines in Mosquitto's shape ("1700000000: New client connected from ..."), filtered by log type
// and written to every configured destination (log_dest may repeat): streams, a file, syslog or
// $SYS/broker/log topics. Each destination is a LogSink; DestinationLogger filters once for all.

import type { Logger, LogType } from '../broker/logger.js';

export const defaultLogTypes: readonly LogType[] = ['error', 'warning', 'notice', 'information'];
export const allLogTypes: readonly LogType[] = [...defaultLogTypes, 'debug', 'subscribe', 'unsubscribe'];

/** One log destination. */
export interface LogSink {
  /** stamp: the line's time as configured (epoch seconds, a log_timestamp_format, or '' when log_timestamp is false). */
  write(type: LogType, message: string, stamp: string): void;
  /** SIGHUP: reopen a file that logrotate may have moved. */
  reopen?(): void;
  /** Flushes and lets go of files, sockets and child processes. */
  close?(): void;
}

/** The line a stream or file gets: "<stamp>: <message>", as Mosquitto prints it. */
export function timestamped(message: string, stamp: string): string {
  return stamp === '' ? message : `${stamp}: ${message}`;
}

/** How lines are stamped: Mosquitto's default is epoch seconds; log_timestamp false gives none. */
export type Stamper = (now: Date) => string;
export const epochSeconds: Stamper = (now) => String(Math.floor(now.getTime() / 1000));
export const noStamp: Stamper = () => '';

/** stdout or stderr (or any stream handed in by a program embedding Culex). */
export class StreamSink implements LogSink {
  constructor(private readonly stream: NodeJS.WritableStream) {}
  write(_type: LogType, message: string, stamp: string): void {
    this.stream.write(`${timestamped(message, stamp)}\n`);
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
    private readonly stamp: Stamper = epochSeconds,
  ) {
    this.types = new Set(types);
  }
  enabled(type: LogType): boolean {
    return this.sinks.length > 0 && this.types.has(type);
  }
  log(type: LogType, message: string): void {
    if (!this.types.has(type)) return;
    if (!this.connectionMessages && connectionMessage.test(message)) return;
    const stamp = this.stamp(new Date());
    for (const sink of this.sinks) sink.write(type, message, stamp);
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
    super(options.types, [new StreamSink(options.stream)], true, options.timestamp ? epochSeconds : noStamp);
  }
}
