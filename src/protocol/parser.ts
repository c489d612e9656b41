// The incremental MQTT packet parser: bytes from the socket in, packets out, in order, for MQTT 3.1,
// 3.1.1 and 5.0. Framing lives here (fixed header, Remaining Length, buffering across chunks); the
// bodies are decoded by parse-connect.ts, parse-publish.ts and parse-subscribe.ts.
//
// Buffering strategy (the broker's hot path): a chunk holding whole packets is parsed in place and
// PUBLISH payloads are views into it; a packet spanning chunks gets one buffer of its exact size, known
// from the fixed header, and the following chunks are copied into it. No Buffer.concat, no per-packet
// closures; the fixed header is decoded into fields of the parser rather than a fresh object.

import { ReasonCode } from './reason-codes.js';
import type { ProtocolError } from './errors.js';
import { PacketTypeNumber, type Packet, type PacketType, type ProtocolVersion } from './packets.js';
import {
  PacketReader,
  ParseFailure,
  packetError,
  statementFor,
  type DecodeContext,
  type ParserSide,
} from './packet-reader.js';
import { parseAuth, parseConnack, parseConnect, parseDisconnect } from './parse-connect.js';
import { parseAck, parsePublish } from './parse-publish.js';
import { parseSuback, parseSubscribe, parseUnsuback, parseUnsubscribe } from './parse-subscribe.js';
import { MAX_PACKET_SIZE } from './wire.js';

export interface ParserOptions {
  /** Largest packet accepted, fixed header included; default 268435460 (the protocol's limit). */
  maxPacketSize?: number;
  /** Largest PUBLISH accepted, fixed header included (see publishSizeBound); default: maxPacketSize alone. */
  maxPublishSize?: number;
  /** Version before a CONNECT says otherwise; default 4. */
  protocolVersion?: ProtocolVersion;
  /**
   * Which end reads these bytes; default 'server' (a broker reading what clients send). It decides the
   * rules that depend on direction: a Subscription Identifier on PUBLISH is an error from a client
   * [MQTT-3.3.4-6], Session Expiry Interval on DISCONNECT is an error from a server [MQTT-3.14.2-2].
   */
  side?: ParserSide;
}

const T = PacketTypeNumber;

/**
 * What a PUBLISH carrying at most `payloadLimit` payload bytes can measure on the wire: the fixed
 * header (5), the longest topic (2 + 65,535), a packet id (2) and, for MQTT 5, a properties length (4)
 * with up to 64 KiB of properties. A Remaining Length beyond this is refused from the fixed header,
 * before its body is buffered; a PUBLISH within it whose payload is still too large is read and
 * then dropped (broker/handlers/publish.ts), as Mosquitto's message_size_limit does.
 * 0 = no payload limit.
 */
export function publishSizeBound(payloadLimit: number): number {
  if (payloadLimit <= 0) return MAX_PACKET_SIZE;
  return Math.min(MAX_PACKET_SIZE, payloadLimit + 5 + 2 + 65_535 + 2 + 4 + 64 * 1024);
}

/** Packet type number → name; index 0 is reserved (forbidden) in every version. */
const TYPE_NAMES: ReadonlyArray<PacketType | undefined> = (() => {
  const names: Array<PacketType | undefined> = new Array(16).fill(undefined);
  for (const [name, number] of Object.entries(PacketTypeNumber)) names[number] = name as PacketType;
  return names;
})();

/** Required fixed-header flags (§2.1.3 Table 2-2); PUBLISH's flags carry DUP, QoS and RETAIN instead. */
function requiredFlags(type: number): number {
  return type === T.pubrel || type === T.subscribe || type === T.unsubscribe ? 0b0010 : 0;
}

/** The statement each packet type's reserved flags break; types without their own use the general one. */
function reservedFlagsStatement(type: number, version: ProtocolVersion): string {
  switch (type) {
    case T.pubrel:
      return 'MQTT-3.6.1-1';
    case T.subscribe:
      return 'MQTT-3.8.1-1';
    case T.unsubscribe:
      return 'MQTT-3.10.1-1';
    case T.disconnect:
      return 'MQTT-3.14.1-1';
    case T.auth:
      return 'MQTT-3.15.1-1';
    default:
      return statementFor(version, 'MQTT-2.1.3-1', 'MQTT-2.2.2-1');
  }
}

/** Checks the first byte of the fixed header: a known type, its reserved flags, PUBLISH's QoS and DUP. */
function checkFirstByte(byte0: number, version: ProtocolVersion): ProtocolError | undefined {
  const type = byte0 >> 4;
  const flags = byte0 & 0x0f;
  const name = TYPE_NAMES[type];
  if (name === undefined) return packetError(undefined, ReasonCode.MalformedPacket, 'packet type 0 is reserved');
  if (type === T.auth && version !== 5) {
    return packetError(name, ReasonCode.MalformedPacket, `AUTH (packet type 15) does not exist in MQTT level ${version}`);
  }
  if (type === T.publish) {
    const qos = (flags >> 1) & 0x03;
    if (qos === 3) return packetError(name, ReasonCode.MalformedPacket, 'PUBLISH: QoS 3 is not a QoS level', 'MQTT-3.3.1-4');
    if (qos === 0 && (flags & 0x08) !== 0) {
      return packetError(name, ReasonCode.MalformedPacket, 'PUBLISH: DUP must be 0 for QoS 0', 'MQTT-3.3.1-2');
    }
    return undefined;
  }
  if (flags !== requiredFlags(type)) {
    return packetError(
      name,
      ReasonCode.MalformedPacket,
      `${name.toUpperCase()}: reserved fixed header flags are 0b${flags.toString(2).padStart(4, '0')}, must be 0b${requiredFlags(type).toString(2).padStart(4, '0')}`,
      reservedFlagsStatement(type, version),
    );
  }
  return undefined;
}

/** What onPacket returns to end a push after this packet, keeping the rest of the chunk (PacketParser.rest). */
export const PAUSE = 2;

// Results of readFixedHeader.
const NEED_MORE = 0;
const COMPLETE = 1;
const FAILED = 2;

export class PacketParser implements DecodeContext {
  /** Version of the packets read; switches when a CONNECT's level byte is read (3, 4 or 5). */
  protocolVersion: ProtocolVersion;
  /** Largest packet accepted, fixed header included; checked before the body is buffered. */
  maxPacketSize: number;
  /** Largest PUBLISH accepted (message_size_limit plus what its headers can take); checked like maxPacketSize. */
  readonly maxPublishSize: number;
  readonly side: ParserSide;

  /** After a push that onPacket paused: the bytes of the chunk not parsed yet, else undefined. */
  rest: Buffer | undefined = undefined;
  private failure: ProtocolError | undefined = undefined;
  private stopped = false;
  private readonly reader = new PacketReader();
  /** Fixed header bytes (at most 5) while the header itself spans chunks. */
  private readonly headerBytes = Buffer.alloc(5);
  private headerFilled = 0;
  /** A packet spanning chunks: a buffer of its exact size, and how much of it has arrived. */
  private pending: Buffer | undefined = undefined;
  private pendingFilled = 0;
  private pendingBodyStart = 0;
  /** Set by readFixedHeader: length of the fixed header and of the whole packet. */
  private headerLength = 0;
  private packetLength = 0;

  constructor(options: ParserOptions = {}) {
    this.protocolVersion = options.protocolVersion ?? 4;
    this.maxPacketSize = options.maxPacketSize ?? MAX_PACKET_SIZE;
    this.maxPublishSize = options.maxPublishSize ?? MAX_PACKET_SIZE;
    this.side = options.side ?? 'server';
  }

  /** Bytes held waiting for the rest of a packet. */
  get bufferedBytes(): number {
    return this.headerFilled + (this.pending === undefined ? 0 : this.pendingFilled);
  }

  /**
   * Feeds bytes; calls onPacket synchronously for each complete packet, in order. If onPacket returns
   * false, parsing stops, the rest of the bytes are discarded, and later pushes are ignored (the
   * connection is closing). If it returns PAUSE, this push ends after that packet and the bytes not
   * parsed yet are left in `rest` (a view of the chunk, not a copy) for the caller to push later.
   * Returns the ProtocolError that stopped parsing, else undefined. After an error the parser stays
   * failed: every later push returns the same error. Never throws, whatever the bytes (an exception
   * thrown by onPacket itself propagates to the caller).
   */
  push(chunk: Buffer, onPacket: (packet: Packet) => boolean | typeof PAUSE | void): ProtocolError | undefined {
    this.rest = undefined;
    if (this.failure !== undefined) return this.failure;
    if (this.stopped) return undefined;
    let pos = 0;
    const end = chunk.length;

    // 1. A fixed header begun in an earlier chunk: add bytes one at a time until it decodes.
    while (this.headerFilled > 0) {
      if (pos === end) return undefined;
      this.headerBytes[this.headerFilled++] = chunk[pos++]!;
      const status = this.readFixedHeader(this.headerBytes, 0, this.headerFilled);
      if (status === FAILED) return this.failure;
      if (status === COMPLETE) {
        const packet = Buffer.allocUnsafe(this.packetLength);
        this.headerBytes.copy(packet, 0, 0, this.headerFilled);
        this.pending = packet;
        this.pendingFilled = this.headerFilled;
        this.pendingBodyStart = this.headerLength;
        this.headerFilled = 0;
      }
    }

    // 2. A packet begun in an earlier chunk: copy into its exact-size buffer until it is whole.
    if (this.pending !== undefined) {
      const packet = this.pending;
      const take = Math.min(packet.length - this.pendingFilled, end - pos);
      chunk.copy(packet, this.pendingFilled, pos, pos + take);
      this.pendingFilled += take;
      pos += take;
      if (this.pendingFilled < packet.length) return undefined;
      this.pending = undefined;
      const decoded = this.decode(packet, 0, this.pendingBodyStart, packet.length);
      if (decoded === undefined) return this.failure;
      const next = onPacket(decoded);
      if (next === false) return this.stop();
      if (next === PAUSE) return this.pauseAt(chunk, pos);
    }

    // 3. Whole packets in this chunk are decoded in place.
    while (pos < end) {
      const status = this.readFixedHeader(chunk, pos, end);
      if (status === FAILED) return this.failure;
      if (status === NEED_MORE) {
        chunk.copy(this.headerBytes, 0, pos, end);
        this.headerFilled = end - pos;
        return undefined;
      }
      const packetEnd = pos + this.packetLength;
      if (packetEnd > end) {
        const packet = Buffer.allocUnsafe(this.packetLength);
        chunk.copy(packet, 0, pos, end);
        this.pending = packet;
        this.pendingFilled = end - pos;
        this.pendingBodyStart = this.headerLength;
        return undefined;
      }
      const decoded = this.decode(chunk, pos, pos + this.headerLength, packetEnd);
      if (decoded === undefined) return this.failure;
      pos = packetEnd;
      const next = onPacket(decoded);
      if (next === false) return this.stop();
      if (next === PAUSE) return this.pauseAt(chunk, pos);
    }
    return undefined;
  }

  private pauseAt(chunk: Buffer, pos: number): undefined {
    if (pos < chunk.length) this.rest = chunk.subarray(pos);
    return undefined;
  }

  private stop(): undefined {
    this.stopped = true;
    this.pending = undefined;
    this.headerFilled = 0;
    return undefined;
  }

  private setFailure(error: ProtocolError): typeof FAILED {
    this.failure = error;
    this.pending = undefined;
    this.headerFilled = 0;
    return FAILED;
  }

  /**
   * Decodes the fixed header at buf[pos..end): type and flags, then the Remaining Length, at most 4 bytes
   * (§2.1.4, §1.5.5). Non-minimal length encodings are accepted: [MQTT-1.5.5-1] binds the sender, and
   * rejecting them would gain nothing (Mosquitto accepts them too). The size limit is checked here,
   * before any of the body is buffered.
   */
  private readFixedHeader(buf: Buffer, pos: number, end: number): number {
    const byte0 = buf[pos]!;
    const firstByteError = checkFirstByte(byte0, this.protocolVersion);
    if (firstByteError !== undefined) return this.setFailure(firstByteError);
    let remainingLength = 0;
    let multiplier = 1;
    for (let i = 1; i <= 4; i++) {
      if (pos + i >= end) return NEED_MORE;
      const byte = buf[pos + i]!;
      remainingLength += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        this.headerLength = i + 1;
        this.packetLength = i + 1 + remainingLength;
        if (this.packetLength > this.maxPacketSize) {
          return this.setFailure(
            packetError(
              TYPE_NAMES[byte0 >> 4],
              ReasonCode.PacketTooLarge,
              `packet of ${this.packetLength} bytes exceeds the maximum packet size of ${this.maxPacketSize}`,
            ),
          );
        }
        if (this.packetLength > this.maxPublishSize && byte0 >> 4 === T.publish) {
          return this.setFailure(
            packetError('publish', ReasonCode.PacketTooLarge, `PUBLISH of ${this.packetLength} bytes cannot fit message_size_limit (at most ${this.maxPublishSize} bytes with its headers)`),
          );
        }
        return COMPLETE;
      }
      multiplier *= 0x80;
    }
    return this.setFailure(
      packetError(TYPE_NAMES[byte0 >> 4], ReasonCode.MalformedPacket, 'Remaining Length is longer than 4 bytes'),
    );
  }

  /** Decodes one whole packet at buf[start..end) whose body starts at bodyStart; undefined on error. */
  private decode(buf: Buffer, start: number, bodyStart: number, end: number): Packet | undefined {
    const byte0 = buf[start]!;
    const typeNumber = byte0 >> 4;
    const type = TYPE_NAMES[typeNumber]!;
    const r = this.reader;
    r.reset(buf, bodyStart, end, type);
    try {
      switch (typeNumber) {
        case T.publish:
          return parsePublish(r, byte0 & 0x0f, this);
        case T.puback:
          return parseAck(r, 'puback', this);
        case T.pubrec:
          return parseAck(r, 'pubrec', this);
        case T.pubrel:
          return parseAck(r, 'pubrel', this);
        case T.pubcomp:
          return parseAck(r, 'pubcomp', this);
        case T.connect:
          return parseConnect(r, this);
        case T.connack:
          return parseConnack(r, this);
        case T.subscribe:
          return parseSubscribe(r, this);
        case T.suback:
          return parseSuback(r, this);
        case T.unsubscribe:
          return parseUnsubscribe(r, this);
        case T.unsuback:
          return parseUnsuback(r, this);
        case T.pingreq:
          r.expectEnd('the fixed header');
          return { type: 'pingreq' };
        case T.pingresp:
          r.expectEnd('the fixed header');
          return { type: 'pingresp' };
        case T.disconnect:
          return parseDisconnect(r, this);
        default:
          return parseAuth(r);
      }
    } catch (thrown) {
      // ParseFailure is how decoders report a bad packet; anything else would be a bug in a decoder,
      // still reported as a malformed packet so that push() never throws.
      this.setFailure(
        thrown instanceof ParseFailure
          ? thrown.error
          : packetError(type, ReasonCode.MalformedPacket, `${type.toUpperCase()}: undecodable (${String(thrown)})`),
      );
      return undefined;
    } finally {
      r.release();
    }
  }
}
