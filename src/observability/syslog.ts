// log_dest syslog through logger(1) from util-linux, one long-lived child reading our lines on its
// standard input (`logger --prio-prefix`): each line carries its own <facility·8+severity> prefix.
// Why a child process: Node has no Unix datagram sockets, so it cannot write to /dev/log itself; the
// npm syslog bindings are native add-ons that have gone unmaintained, or speak only UDP/TCP to a
// remote daemon. logger is part of every Debian system (bsdutils, Essential) and knows the local
// socket, RFC 3164/5424 framing and journald. Without /dev/log it drops lines silently, as openlog(3) does.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { LogType } from '../broker/logger.js';
import type { LogSink } from './log.js';

/** syslog(3) severities for Mosquitto's log types (log__vprintf in src/logging.c). */
const severity: Readonly<Record<LogType, number>> = {
  error: 3, // LOG_ERR
  warning: 4, // LOG_WARNING
  notice: 5, // LOG_NOTICE
  information: 6, // LOG_INFO
  subscribe: 5,
  unsubscribe: 5,
  debug: 7, // LOG_DEBUG
};

/** LOG_DAEMON, Mosquitto's default facility. */
export const daemonFacility = 3;

export interface SyslogOptions {
  /** syslog facility number: 3 = daemon, 16..23 = local0..local7 (log_facility N gives local N). */
  readonly facility: number;
  /** Tag of every line; Mosquitto uses its program name. */
  readonly tag: string;
  /** A Unix socket to write to instead of the system's (/dev/log); for tests and chroots. */
  readonly socket?: string;
  /** The logger program; found on PATH by default. */
  readonly command?: string;
}

export class SyslogSink implements LogSink {
  private readonly child: ChildProcess;
  private alive = true;

  constructor(private readonly options: SyslogOptions) {
    const args = ['--prio-prefix', '-t', options.tag, `--id=${process.pid}`];
    if (options.socket !== undefined) args.push('--socket', options.socket);
    this.child = spawn(options.command ?? 'logger', args, { stdio: ['pipe', 'ignore', 'inherit'] });
    this.child.on('error', (error) => this.lost(error.message));
    this.child.on('exit', (code, signal) => this.lost(`logger exited (${code ?? signal})`));
    this.child.stdin!.on('error', () => {}); // EPIPE after the child died: reported by 'exit'
    // the pipe and the child must not keep a stopping broker alive
    this.child.unref();
    (this.child.stdin as Socket).unref();
  }

  write(type: LogType, message: string): void {
    if (!this.alive) return;
    // one line per record: a newline inside a message would start a new record without a prefix
    this.child.stdin!.write(`<${this.options.facility * 8 + severity[type]}>${message.replace(/\n/g, ' ')}\n`);
  }

  close(): void {
    if (this.alive) this.child.stdin!.end();
    this.alive = false;
  }

  private lost(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    process.stderr.write(`Warning: log_dest syslog stopped: ${why}.\n`);
  }
}
