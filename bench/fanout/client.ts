// A bare MQTT 3.1.1 (or 5.0) client for the load generator: a TCP socket, Culex's own encoder and
// incremental parser, and nothing else (no MQTT.js, no per-message promises or events), so the
// generator's cost per message stays far below a broker's. Handshakes (CONNECT, SUBSCRIBE) are awaited
// with a timeout; after them every packet goes to `onPacket`. The 5.0 mode exists to measure what a
// broker does for v5 subscribers, such as topic aliases toward clients (Topic Alias Maximum).

import { connect, type Socket } from 'node:net';
import { PacketParser } from '../../src/protocol/parser.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { Packet, PacketType, QoS } from '../../src/protocol/packets.js';

export const BENCH_PROTOCOL_VERSION = 4;

export interface OpenOptions {
  /** 4 (MQTT 3.1.1, the default) or 5. */
  readonly version?: 4 | 5;
  /** MQTT 5 only: the Topic Alias Maximum announced in CONNECT (aliases the broker may use toward us). */
  readonly topicAliasMaximum?: number;
  /** Source address, e.g. 127.0.0.2: each loopback address has its own range of ephemeral ports. */
  readonly localAddress?: string;
  /** Clean session (default true); false makes the session persistent (recorded by a broker with persistence). */
  readonly clean?: boolean;
}

/** The read buffer of every connection of this thread (each thread loads its own copy of this module). */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

export class BenchClient {
  readonly parser: PacketParser;
  /** process.hrtime.bigint() when the chunk now being parsed was read: the delivery time of its packets. */
  chunkTime = 0n;
  /** Every packet not awaited by a handshake. */
  onPacket: (packet: Packet) => void = () => {};
  /** Called after each chunk's packets were handled (a place to flush per-chunk work). */
  onChunkEnd: () => void = () => {};
  /** Called once if the connection fails or closes before close() was called. */
  onFailure: (reason: string) => void = () => {};
  /** Set when the connection failed or closed before close() was called. */
  failure: string | undefined = undefined;
  private awaited: { type: PacketType; resolve: (packet: Packet) => void; reject: (error: Error) => void } | undefined;
  private closing = false;
  private readonly dispatch = (packet: Packet): void => {
    const awaited = this.awaited;
    if (awaited !== undefined && packet.type === awaited.type) {
      this.awaited = undefined;
      awaited.resolve(packet);
      return;
    }
    this.onPacket(packet);
  };

  private constructor(
    readonly socket: Socket,
    readonly version: 4 | 5,
  ) {
    this.parser = new PacketParser({ side: 'client', protocolVersion: version });
    socket.on('error', (error) => this.fail(error.message));
    socket.on('close', () => {
      if (!this.closing) this.fail('the broker closed the connection');
    });
  }

  /** Bytes read into the thread's shared read buffer; parsed at once, before the buffer is reused. */
  private onBytes(chunk: Buffer): void {
    this.chunkTime = process.hrtime.bigint();
    const error = this.parser.push(chunk, this.dispatch);
    if (error !== undefined) this.fail(`protocol error from the broker: ${error.message}`);
    this.onChunkEnd();
  }

  /** Opens a TCP connection and completes CONNECT/CONNACK (clean session unless told, no keepalive). */
  static async open(host: string, port: number, clientId: string, timeoutMs: number, options: OpenOptions = {}): Promise<BenchClient> {
    const version = options.version ?? BENCH_PROTOCOL_VERSION;
    const clean = options.clean ?? true;
    let client: BenchClient | undefined;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({
        host,
        port,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        noDelay: true,
        // Reads land in one buffer per thread, handed to a callback: no Buffer per read, no 'data'
        // event. Safe because each chunk is parsed synchronously (the parser copies what it keeps).
        onread: {
          buffer: readBuffer,
          callback: (bytes: number, buffer: Uint8Array): boolean => {
            client?.onBytes((buffer as Buffer).subarray(0, bytes));
            return true;
          },
        },
      });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const refused = (error: Error): void => {
        clearTimeout(timer);
        reject(error);
      };
      s.once('error', refused);
      s.once('connect', () => {
        clearTimeout(timer);
        s.off('error', refused);
        resolve(s);
      });
    });
    client = new BenchClient(socket, version);
    const connack = await client.request(
      {
        type: 'connect',
        protocolName: 'MQTT',
        protocolVersion: version,
        bridge: false,
        clean,
        keepalive: 0, // no PINGREQ traffic during a measurement
        clientId,
        ...(version === 5 && options.topicAliasMaximum ? { properties: { topicAliasMaximum: options.topicAliasMaximum } } : {}),
      },
      'connack',
      timeoutMs,
    );
    if (connack.type === 'connack' && connack.reasonCode !== 0) {
      client.close();
      throw new Error(`CONNACK return code ${connack.reasonCode} for ${clientId}`);
    }
    return client;
  }

  async subscribe(topic: string, qos: QoS, timeoutMs: number): Promise<void> {
    const suback = await this.request(
      {
        type: 'subscribe',
        packetId: 1,
        subscriptions: [{ filter: topic, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
      },
      'suback',
      timeoutMs,
    );
    const granted = suback.type === 'suback' ? suback.reasonCodes[0] : undefined;
    if (granted !== qos) throw new Error(`SUBACK granted ${granted} for QoS ${qos} on ${topic}`);
  }

  /** Sends a packet and waits for the first packet of type `expect`. */
  request(packet: Packet, expect: PacketType, timeoutMs: number): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.awaited = undefined;
        reject(new Error(`no ${expect.toUpperCase()} within ${timeoutMs} ms${this.failure ? ` (${this.failure})` : ''}`));
      }, timeoutMs);
      this.awaited = {
        type: expect,
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.socket.write(encodePacket(packet, this.version));
    });
  }

  /** DISCONNECT, then close; the socket is destroyed if the broker has not closed it within a second. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.socket.destroyed) {
      this.socket.end(encodePacket({ type: 'disconnect' }, this.version));
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }

  private fail(reason: string): void {
    if (this.closing || this.failure !== undefined) return;
    this.failure = reason;
    const awaited = this.awaited;
    this.awaited = undefined;
    awaited?.reject(new Error(reason));
    this.socket.destroy();
    this.onFailure(reason);
  }
}
