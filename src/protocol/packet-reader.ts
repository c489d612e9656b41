// Reads the fields of one packet body in place. A field that does not fit, or is not what the spec
// allows, throws a ParseFailure carrying the ProtocolError; PacketParser.push catches it and returns the
// error as a value, so nothing throws out of the codec. Throwing inside keeps every decoder a straight
// line of reads instead of a check after each one, and costs nothing on the success path.

import type { PacketType, ProtocolVersion } from './packets.js';
import { protocolError, type ProtocolError } from './errors.js';
import { ReasonCode } from './reason-codes.js';
import { decodeMqttUtf8, Utf8Fault } from './utf8.js';

export class ParseFailure extends Error {
  constructor(readonly error: ProtocolError) {
    super(error.message);
  }
}

/** Builds the error value for a packet type, with the statement broken when there is one. */
export function packetError(
  packetType: PacketType | undefined,
  reasonCode: number,
  message: string,
  statement?: string,
): ProtocolError {
  const error = protocolError(reasonCode, message, statement);
  return packetType === undefined ? error : { ...error, packetType };
}

/** Which end of the connection reads the bytes: a broker reads what clients send ('server'). */
export type ParserSide = 'server' | 'client';

/** What the packet decoders need from the parser; CONNECT writes protocolVersion as soon as it knows it. */
export interface DecodeContext {
  protocolVersion: ProtocolVersion;
  readonly side: ParserSide;
}

/** The statement id for a rule numbered differently in MQTT 5.0 and 3.1.1 (3.1 numbers none; it follows 3.1.1). */
export function statementFor(version: ProtocolVersion, v5: string, v311: string): string {
  return version === 5 ? v5 : v311;
}

const EMPTY = Buffer.alloc(0);

export class PacketReader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  packetType: PacketType = 'connect';

  reset(buf: Buffer, pos: number, end: number, packetType: PacketType): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.packetType = packetType;
  }

  /** Drops the reference to the last chunk so that a parked parser does not keep it alive. */
  release(): void {
    this.buf = EMPTY;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(reasonCode: number, message: string, statement?: string): never {
    throw new ParseFailure(packetError(this.packetType, reasonCode, `${this.packetType.toUpperCase()}: ${message}`, statement));
  }

  /** Fails with an error found by a validator (validate.ts), attributed to this packet. */
  failWith(error: ProtocolError, field: string): never {
    throw new ParseFailure({
      ...error,
      message: `${this.packetType.toUpperCase()}: ${field}: ${error.message}`,
      packetType: this.packetType,
    });
  }

  malformed(message: string, statement?: string): never {
    return this.fail(ReasonCode.MalformedPacket, message, statement);
  }

  protocolError(message: string, statement?: string): never {
    return this.fail(ReasonCode.ProtocolError, message, statement);
  }

  /** The packet must end exactly here: trailing bytes make it malformed. */
  expectEnd(after: string): void {
    if (this.pos !== this.end) this.malformed(`${this.end - this.pos} unexpected byte(s) after ${after}`);
  }

  private need(bytes: number, field: string): void {
    if (this.end - this.pos < bytes) this.malformed(`packet ends inside ${field}`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const value = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  /** A Variable Byte Integer of at most 4 bytes (§1.5.5). */
  varInt(field: string): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      this.need(1, field);
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return value;
      multiplier *= 0x80;
    }
    return this.malformed(`${field} is a Variable Byte Integer longer than 4 bytes`);
  }

  /** A UTF-8 Encoded String: well-formed, no surrogates [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2]. */
  utf8(field: string): string {
    const length = this.u16(field);
    this.need(length, field);
    const start = this.pos;
    this.pos += length;
    const text = decodeMqttUtf8(this.buf, start, this.pos);
    if (typeof text === 'string') return text;
    return text === Utf8Fault.NullCharacter
      ? this.malformed(`${field} contains U+0000`, 'MQTT-1.5.4-2')
      : this.malformed(`${field} is not well-formed UTF-8`, 'MQTT-1.5.4-1');
  }

  /** Binary Data: a view into the packet bytes, or a copy when the value outlives the packet. */
  binary(field: string, copy: boolean): Buffer {
    const length = this.u16(field);
    this.need(length, field);
    const start = this.pos;
    this.pos += length;
    const view = this.buf.subarray(start, this.pos);
    return copy ? Buffer.from(view) : view;
  }

  /** The rest of the packet, as a view (PUBLISH payload: no copy on the hot path). */
  rest(): Buffer {
    const view = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return view;
  }
}
