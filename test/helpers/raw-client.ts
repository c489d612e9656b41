// A raw MQTT client over a real socket for wire-level tests: send packets or bytes, and expect
// exactly what the broker answers, with a timeout on every wait.

import { connect, type Socket } from 'node:net';
import { PacketParser } from '../../src/protocol/parser.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ConnectPacket, Packet, ProtocolVersion } from '../../src/protocol/packets.js';

export class RawClient {
  private readonly parser: PacketParser;
  private readonly received: Packet[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(
    readonly socket: Socket,
    readonly version: ProtocolVersion,
  ) {
    this.parser = new PacketParser({ protocolVersion: version, side: 'client' });
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk, (packet) => {
        this.received.push(packet);
      });
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, version: ProtocolVersion = 4): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(socket, version)));
      socket.once('error', reject);
    });
  }

  /** Opens a connection and completes CONNECT/CONNACK. */
  static async connected(port: number, connect: Partial<ConnectPacket> = {}): Promise<RawClient> {
    const version = connect.protocolVersion ?? 4;
    const client = await RawClient.open(port, version);
    client.send({
      type: 'connect',
      protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      bridge: false,
      clean: true,
      keepalive: 0,
      clientId: `raw-${Math.random().toString(16).slice(2, 10)}`,
      ...connect,
    });
    const connack = await client.expect('connack');
    if (connack.reasonCode !== 0) throw new Error(`CONNACK ${connack.reasonCode}`);
    return client;
  }

  send(packet: Packet): void {
    this.socket.write(encodePacket(packet, this.version));
  }

  sendBytes(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** The next packet received, which must be of the given type. */
  async expect<T extends Packet['type']>(type: T, timeoutMs = 2000): Promise<Extract<Packet, { type: T }>> {
    const packet = await this.next(timeoutMs);
    if (packet === undefined) throw new Error(`expected ${type}, but the connection closed`);
    if (packet.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(packet)}`);
    return packet as Extract<Packet, { type: T }>;
  }

  /** The next packet, or undefined if the connection closes first; rejects on timeout. */
  async next(timeoutMs = 2000): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.shift();
  }

  /** Resolves true if nothing arrives within ms (and the connection stays open or closes quietly). */
  async nothingWithin(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.received.length === 0;
  }

  /** Waits until the broker closes the connection; returns packets received before the close. */
  async closedByBroker(timeoutMs = 3000): Promise<Packet[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.splice(0);
  }

  destroy(): void {
    this.socket.destroy();
  }

  end(): void {
    this.socket.end();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
