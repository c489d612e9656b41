// A byte stream (a TCP or TLS socket, or a WebSocket wrapped as a stream) as a ClientLink: bytes in
// through the incremental parser to the channel, packets out through the batching outbox. This is
// the one place where socket errors are caught; a bad peer only ever closes its own connection.

import type { Duplex } from 'node:stream';
import type { Broker } from '../broker/broker.js';
import type { Channel } from '../broker/channel.js';
import type { ClientLink } from '../broker/link.js';
import { PAUSE, PacketParser, publishSizeBound } from '../protocol/parser.js';
import type { Packet, ProtocolVersion } from '../protocol/packets.js';
import { encodePacket, SHORT_ACK_PACKET_ID_OFFSET, shortAckTemplate, type EncodedPublish } from '../protocol/writer.js';
import { Outbox, type ByteSink } from './outbox.js';
import { readTurns, type ReadThrottled } from './read-turns.js';

/** Who is on the other end; a net.Socket has these fields itself, a WebSocket stream takes them from its HTTP request. */
export interface PeerAddress {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localPort?: number | undefined;
}

export interface ConnectionOptions {
  /** Where the peer is, when the stream itself does not say (WebSocket). */
  readonly peer?: PeerAddress;
  /** See ClientLink.certificateIdentity. */
  readonly certificateIdentity?: string | null;
}

/** Budgets left when a quarter of them is spent (read-turns.ts markBusy). */
const BUSY_BYTES = (readTurns.budget * 3) / 4;
const BUSY_PACKETS = (readTurns.packets * 3) / 4;

export class SocketConnection implements ClientLink, ByteSink, ReadThrottled {
  readonly remoteAddress: string;
  readonly localPort: number;
  readonly certificateIdentity: string | null | undefined;
  private readonly parser: PacketParser;
  private readonly outbox = new Outbox(this);
  private readonly channel: Channel;
  private closed = false;
  /** Bytes this connection may still read in the turn numbered budgetTurn before it yields the event loop to the others. */
  private readBudget = readTurns.budget;
  /** Packets it may still handle in that turn (see read-turns.ts). */
  private packetBudget = readTurns.packets;
  private budgetTurn = -1;
  /** Paused because it spent its read budget (see read-turns.ts). */
  private throttled = false;
  /** Paused because the channel holds packets back behind a pending check. */
  private held = false;
  /** Bytes read and not parsed yet, beyond this turn's packet budget: parsed first on the next turn. */
  private unparsed: Buffer | undefined;
  /** Packets handed over in the current parse call, and when the 32nd was (see onPacket). */
  private parsed = 0;
  private parseStart = 0;
  private readonly onPacket = (packet: Packet): boolean | typeof PAUSE => {
    if (!this.channel.handlePacket(packet)) return false;
    if (--this.packetBudget <= 0) return PAUSE;
    // A time limit too, read every 32 packets (a lone packet never reads the clock): packets cost
    // more while the code is still cold, and at the start of a 10-publisher flood the first new
    // client waited 186–205 ms for its CONNACK without budgets, 70–175 ms with the packet budget
    // alone, 33–99 ms with this.
    if ((++this.parsed & 31) === 0) {
      const now = performance.now();
      if (this.parsed === 32) this.parseStart = now;
      else if (now - this.parseStart > readTurns.sliceMs) {
        this.packetBudget = 0;
        return PAUSE;
      }
    }
    return true;
  };

  constructor(
    private readonly socket: Duplex,
    private readonly broker: Broker,
    readonly listener: string,
    options: ConnectionOptions = {},
  ) {
    const peer = options.peer ?? (socket as PeerAddress);
    const raw = peer.remoteAddress ?? 'unknown';
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; Mosquitto, with its separate IPv4
    // socket, logs a.b.c.d, and that is what log readers (fail2ban filters) match.
    const address = raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
    this.remoteAddress = address.includes(':') ? `[${address}]:${peer.remotePort}` : `${address}:${peer.remotePort}`;
    this.localPort = peer.localPort ?? 0;
    this.certificateIdentity = options.certificateIdentity;
    this.parser = new PacketParser({ maxPacketSize: broker.options.maxPacketSize, maxPublishSize: publishSizeBound(broker.options.messageSizeLimit) });
    this.channel = broker.accept(this);
    broker.options.logger.log('notice', `New connection from ${this.remoteAddress} on port ${this.localPort}.`);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      if (broker.options.logger.enabled('debug')) broker.options.logger.log('debug', `Socket error on ${this.remoteAddress}: ${error.message}.`);
      socket.destroy();
    });
    socket.on('close', () => {
      this.closed = true;
      this.unparsed = undefined;
      this.outbox.discard();
      this.channel.handleClose();
    });
  }

  get parserVersion(): ProtocolVersion {
    return this.parser.protocolVersion;
  }

  get backlog(): number {
    return this.socket.writableLength + this.outbox.pendingBytes;
  }

  writePacket(packet: Packet, version: ProtocolVersion): void {
    if (this.closed) return;
    this.broker.stats.messagesSent++;
    const shortAck = shortAckTemplate(packet);
    if (shortAck !== undefined) this.outbox.pushPatched(shortAck, SHORT_ACK_PACKET_ID_OFFSET, (packet as { packetId: number }).packetId, false);
    else this.outbox.push(encodePacket(packet, version));
  }

  writePublish(encoded: EncodedPublish, packetId: number, dup: boolean): void {
    if (this.closed) return;
    this.broker.stats.messagesSent++;
    // QoS 0: every subscriber shares the same bytes; QoS 1/2: its packet id is patched into the copy the flush makes
    if (encoded.packetIdOffset < 0) this.outbox.push(encoded.bytes);
    else this.outbox.pushPatched(encoded.bytes, encoded.packetIdOffset, packetId, dup);
  }

  writeBatch(chunks: Buffer[], totalBytes: number): void {
    if (this.closed) return;
    this.broker.stats.bytesSent += totalBytes;
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
      return;
    }
    this.socket.cork();
    for (const chunk of chunks) this.socket.write(chunk);
    this.socket.uncork();
  }

  close(): void {
    if (this.closed) return;
    this.outbox.flush();
    this.closed = true;
    this.socket.end();
    // A peer that never reads would keep a half-closed socket forever: give it a moment, then cut.
    // A stopping broker gives no moment (a hung client would hold up its exit, which Mosquitto's never
    // is): the socket is cut as soon as our last bytes are handed to the kernel.
    if (this.broker.isClosing) this.socket.once('finish', () => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  pause(): void {
    this.held = true;
    this.socket.pause();
  }

  resume(): void {
    this.held = false;
    if (!this.closed && !this.throttled) this.socket.resume();
  }

  /** A new event-loop turn: fresh budgets, what was left unparsed, then reading again unless the channel holds it. */
  readTurn(): void {
    this.throttled = false;
    this.startTurn(readTurns.currentTurn);
    const rest = this.unparsed;
    if (rest !== undefined && !this.closed) {
      this.unparsed = undefined;
      this.parse(rest);
    }
    if (!this.closed && !this.held && !this.throttled) this.socket.resume();
  }

  setMaxIncomingPacketSize(bytes: number): void {
    this.parser.maxPacketSize = bytes;
  }

  private onData(chunk: Buffer): void {
    this.broker.stats.bytesReceived += chunk.length;
    const turn = readTurns.currentTurn;
    if (turn !== this.budgetTurn) this.startTurn(turn);
    this.readBudget -= chunk.length;
    // a chunk read while the rest of an earlier one waits (the socket was paused after this read began)
    this.parse(this.unparsed === undefined ? chunk : Buffer.concat([this.unparsed, chunk]));
  }

  private startTurn(turn: number): void {
    this.budgetTurn = turn;
    this.readBudget = readTurns.budget;
    this.packetBudget = readTurns.packets;
  }

  /** Parses until the packet budget is spent; past either budget, yields the event loop until the next turn. */
  private parse(bytes: Buffer): void {
    this.unparsed = undefined;
    this.parsed = 0;
    const error = this.parser.push(bytes, this.onPacket);
    if (error !== undefined) {
      this.channel.handleProtocolError(error);
      return;
    }
    this.unparsed = this.parser.rest;
    if (this.readBudget <= BUSY_BYTES || this.packetBudget <= BUSY_PACKETS) readTurns.markBusy();
    if ((this.readBudget <= 0 || this.packetBudget <= 0) && !this.throttled && !this.closed) {
      this.throttled = true;
      this.socket.pause();
      readTurns.defer(this);
    }
  }
}
