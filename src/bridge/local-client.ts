// The bridge's local side: a privileged client of this broker over an in-process link, with a
// session of its own. It goes through the same channel, session and queue as any client, so
// messages for the remote wait in that session (bounded by the queue limits, kept by the store)
// while the remote is down, and a message leaves the session only when the bridge acknowledges it,
// which it does once the remote has acknowledged it.

import type { Broker } from '../broker/broker.js';
import type { Channel } from '../broker/channel.js';
import type { ClientLink } from '../broker/link.js';
import { NEVER_EXPIRES } from '../broker/session.js';
import { PacketParser } from '../protocol/parser.js';
import type { Packet, ProtocolVersion, PublishPacket, SubscriptionRequest } from '../protocol/packets.js';
import { patchEncodingCopy, type EncodedPublish } from '../protocol/writer.js';

/** The local side speaks MQTT 5 to the broker: No Local, Retain As Published and properties come through whole. */
const LOCAL_VERSION: ProtocolVersion = 5;

/** A ClientLink whose "socket" is the bridge: packets go to it as objects, nothing is encoded twice. */
class InternalLink implements ClientLink {
  readonly privileged = true;
  readonly localPort = 0;
  readonly parserVersion: ProtocolVersion = LOCAL_VERSION;
  readonly backlog = 0;
  readonly remoteAddress: string;
  readonly listener: string;
  channel: Channel | undefined;
  private closed = false;
  private readonly parser = new PacketParser({ protocolVersion: LOCAL_VERSION, side: 'client' });

  constructor(
    name: string,
    private readonly deliver: (packet: Packet) => void,
  ) {
    this.remoteAddress = `bridge:${name}`;
    this.listener = `bridge:${name}`;
  }

  writePacket(packet: Packet): void {
    if (!this.closed) this.deliver(packet);
  }

  writePublish(encoded: EncodedPublish, packetId: number, dup: boolean): void {
    if (this.closed) return;
    // The shared encoding is decoded back; QoS 1/2 need their packet id patched in first (a copy, as a socket gets).
    let bytes = encoded.bytes;
    if (encoded.packetIdOffset >= 0) {
      bytes = Buffer.from(encoded.bytes);
      patchEncodingCopy(bytes, 0, encoded.packetIdOffset, packetId, dup);
    }
    this.parser.push(bytes, (packet) => {
      if (packet.type === 'publish') this.deliver(packet);
      return true;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const channel = this.channel;
    if (channel !== undefined) queueMicrotask(() => channel.handleClose());
  }

  pause(): void {}
  resume(): void {}
  setMaxIncomingPacketSize(): void {}
}

export interface LocalHandlers {
  /** A message for the remote; acknowledge it with ack() once the remote has it (QoS 1/2). */
  message(packet: PublishPacket): void;
  /** PUBREL of a QoS 2 message for the remote (acknowledged with PUBREC before); answer with complete(). */
  release(packetId: number): void;
}

export interface LocalConnect {
  readonly clientId: string;
  readonly clean: boolean;
  /** Keep the session (and what queues in it) while the remote is down. */
  readonly persistent: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Messages the session may have in flight toward the bridge. */
  readonly receiveMaximum: number;
}

export class LocalClient {
  private channel: Channel | undefined;
  private nextPacketId = 1;
  /** Messages the bridge published locally, waiting for PUBACK / PUBREC. */
  private readonly pending = new Map<number, () => void>();

  constructor(
    private readonly broker: Broker,
    private readonly name: string,
    private readonly handlers: LocalHandlers,
  ) {}

  get connected(): boolean {
    return this.channel !== undefined && this.channel.state === 'connected';
  }

  /** Connects to the broker; the CONNACK comes back within this call (a privileged client is not authenticated). */
  connect(options: LocalConnect): boolean {
    this.disconnect();
    const link = new InternalLink(this.name, (packet) => this.onPacket(packet));
    const channel = this.broker.accept(link);
    link.channel = channel;
    this.channel = channel;
    channel.handlePacket({
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: LOCAL_VERSION,
      bridge: false,
      clean: options.clean,
      keepalive: 0,
      clientId: options.clientId,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: Buffer.from(options.password) } : {}),
      properties: { sessionExpiryInterval: options.persistent ? NEVER_EXPIRES : 0, receiveMaximum: Math.max(1, Math.min(65535, options.receiveMaximum)) },
    });
    return this.connected;
  }

  subscribe(requests: readonly SubscriptionRequest[]): void {
    if (requests.length === 0 || !this.connected) return;
    this.channel!.handlePacket({ type: 'subscribe', packetId: this.allocate(() => undefined), subscriptions: [...requests] });
  }

  /** Publishes a message from the remote into this broker; `taken` runs once the broker has it. */
  publish(packet: PublishPacket, taken: () => void): void {
    if (!this.connected) return; // not taken: the remote sends it again
    if (packet.qos === 0) {
      this.channel!.handlePacket({ ...packet, dup: false });
      taken();
      return;
    }
    const packetId = this.allocate(taken);
    this.channel!.handlePacket({ ...packet, packetId, dup: false });
  }

  /** The remote has the message this session sent with this id: PUBACK, or PUBREC for QoS 2. */
  ack(packetId: number, qos: 1 | 2): void {
    if (!this.connected) return;
    this.channel!.handlePacket({ type: qos === 1 ? 'puback' : 'pubrec', packetId });
  }

  /** PUBCOMP: the QoS 2 message with this id is done with at the remote too. */
  complete(packetId: number): void {
    if (!this.connected) return;
    this.channel!.handlePacket({ type: 'pubcomp', packetId });
  }

  /** Leaves the broker; a persistent session stays and queues. */
  disconnect(): void {
    const channel = this.channel;
    this.channel = undefined;
    this.pending.clear();
    if (channel !== undefined && channel.state === 'connected') channel.handlePacket({ type: 'disconnect' });
  }

  private allocate(done: () => void): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.pending.has(id)) {
        this.pending.set(id, done);
        return id;
      }
    }
    throw new RangeError('no free packet identifier');
  }

  private onPacket(packet: Packet): void {
    switch (packet.type) {
      case 'publish':
        return this.handlers.message(packet);
      case 'pubrel':
        return this.handlers.release(packet.packetId);
      case 'puback':
      case 'pubrec': {
        const done = this.pending.get(packet.packetId);
        this.pending.delete(packet.packetId);
        if (packet.type === 'pubrec') this.channel?.handlePacket({ type: 'pubrel', packetId: packet.packetId });
        done?.();
        return;
      }
      case 'suback':
      case 'unsuback':
        this.pending.delete(packet.packetId);
        return;
      default:
        return; // CONNACK, PUBCOMP, DISCONNECT: nothing to do
    }
  }
}
