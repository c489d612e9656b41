// Protocol errors are values, never exceptions across the event loop: the parser and the
// validators return them, and the connection turns them into the right DISCONNECT and a log line.

import type { PacketType } from './packets.js';
import { ReasonCode } from './reason-codes.js';

export interface ProtocolError {
  readonly kind: 'protocol-error';
  /** v5 reason code for the DISCONNECT (or CONNACK, when the error is in CONNECT). */
  readonly reasonCode: number;
  /** What was wrong, for the log line. */
  readonly message: string;
  /** The normative statement broken, e.g. "MQTT-3.3.2-2", when there is one. */
  readonly statement?: string;
  /** The packet being read when the error was found, when known (an error in CONNECT is answered with CONNACK). */
  readonly packetType?: PacketType;
}

export function protocolError(reasonCode: number, message: string, statement?: string): ProtocolError {
  return statement === undefined
    ? { kind: 'protocol-error', reasonCode, message }
    : { kind: 'protocol-error', reasonCode, message, statement };
}

export function malformed(message: string, statement?: string): ProtocolError {
  return protocolError(ReasonCode.MalformedPacket, message, statement);
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return typeof value === 'object' && value !== null && (value as ProtocolError).kind === 'protocol-error';
}
