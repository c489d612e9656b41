// What the broker needs from a log: Mosquitto's log types, so that operators' filters keep working.
// The concrete destinations (stdout, file, syslog) live in observability/.

export type LogType = 'error' | 'warning' | 'notice' | 'information' | 'debug' | 'subscribe' | 'unsubscribe';

export interface Logger {
  /** Cheap check so that hot paths build debug strings only when someone will read them. */
  enabled(type: LogType): boolean;
  log(type: LogType, message: string): void;
}

/** A logger that drops everything: the library default, so embedding Culex prints nothing unasked. */
export const silentLogger: Logger = { enabled: () => false, log: () => {} };
