// The bridge's client of the remote broker: one TCP or TLS connection, written with Culex's own
// codec rather than a client library, because the bridge needs what general clients hide: the
// bridge bit in CONNECT (try_private), acknowledging a remote message only once the local broker
// has taken it, and packet ids and QoS 2 state that it decides itself. Reconnection is not done
// here: one RemoteClient is one connection; the bridge makes a new one after its restart delay.

import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PacketParser } from '../protocol/parser.js';
import { encodePacket } from '../protocol/writer.js';
import type { ConnackPacket, ConnectPacket, Packet, ProtocolVersion, PublishPacket, QoS, SubscriptionRequest } from '../protocol/packets.js';
import type { BridgeAddress, BridgeTls } from './config.js';

/** The window toward a remote that states no Receive Maximum (see RemoteClient.receiveMaximum). */
const UNSTATED_RECEIVE_MAXIMUM = 20;

export interface RemoteHandlers {
  /** CONNACK with success: the connection may be used. */
  connected(connack: ConnackPacket): void;
  /** CONNACK with a refusal; the connection closes next. */
  refused(reasonCode: number): void;
  /**
   * A message from the remote. For QoS 1/2, call `taken` once the local broker has it: only then
   * is the remote acknowledged (PUBACK, or PUBREC for QoS 2).
   */
  message(packet: PublishPacket, taken: () => void): void;
  /** A SUBSCRIBE filter the remote refused. */
  subscribeFailed(filter: string, reasonCode: number): void;
  /** The connection is gone (whatever the cause); called once. */
  closed(why: string): void;
}

export interface RemoteClientOptions {
  readonly address: BridgeAddress;
  readonly tls: BridgeTls | undefined;
  readonly bindAddress: string | undefined;
  readonly connect: ConnectPacket;
  /**
   * QoS 2 packet ids received and acknowledged with PUBREC but not yet released, kept by the
   * bridge across connections of a persistent remote session [MQTT-4.3.3-10].
   */
  readonly incomingQos2: Set<number>;
}

type Pending =
  /** The bridge's own PUBLISH (its notification), under an id of its own. */
  | { kind: 'publish'; qos: QoS; done: () => void; released: boolean }
  /** A message of the bridge's local session, under that session's packet id (forward()). */
  | { kind: 'forward'; acked: () => void }
  /** A PUBREL of the local session's QoS 2 message, waiting for PUBCOMP (release()). */
  | { kind: 'release'; completed: () => void }
  | { kind: 'subscribe'; filters: readonly string[] }
  | { kind: 'unsubscribe' };

export class RemoteClient {
  private readonly socket: Socket;
  private readonly parser: PacketParser;
  private readonly version: ProtocolVersion;
  private readonly pending = new Map<number, Pending>();
  /** QoS 2 ids handed to the local broker and not yet taken: a resent PUBLISH is not delivered twice. */
  private readonly incomingPending = new Set<number>();
  /** The bridge's own packets count down from the top, away from the local session's ids, which count up. */
  private nextPacketId = 65535;
  /** Forwarded packets whose id one of the bridge's own packets holds: sent once it completes. */
  private readonly parked = new Map<number, () => void>();
  private state: 'connecting' | 'connected' | 'closed' = 'connecting';
  private lastSent = Date.now();
  private lastReceived = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /**
   * QoS 1/2 messages the bridge keeps in flight to the remote: its Receive Maximum when its v5
   * CONNACK states one, else 20. The spec's default would be 65,535, but a 3.1.1 peer states
   * nothing, and Mosquitto 2.0 takes no more unacknowledged QoS 1/2 messages from one client than its
   * max_inflight_messages (20 by default): it acknowledges the excess and drops it.
   */
  receiveMaximum = UNSTATED_RECEIVE_MAXIMUM;
  /** Maximum Packet Size of the remote (v5 CONNACK); unlimited otherwise. */
  maximumPacketSize = Number.MAX_SAFE_INTEGER;
  maximumQos: QoS = 2;
  retainAvailable = true;

  constructor(
    private readonly options: RemoteClientOptions,
    private readonly handlers: RemoteHandlers,
  ) {
    this.version = options.connect.protocolVersion;
    this.parser = new PacketParser({ protocolVersion: this.version, side: 'client' });
    const { host, port } = options.address;
    const local = options.bindAddress === undefined ? {} : { localAddress: options.bindAddress };
    this.socket = options.tls === undefined ? connectTcp({ host, port, ...local }) : connectTls({ host, port, ...local, ...tlsOptions(options.tls, host) });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error: Error) => this.close(error.message));
    this.socket.on('close', () => this.close('connection closed'));
    this.send(options.connect);
    // The CONNACK must come within one keepalive period (at least 10 s).
    const connectTimeout = Math.max(options.connect.keepalive, 10) * 1000;
    this.timer = setTimeout(() => this.close('no CONNACK in time'), connectTimeout);
    this.timer.unref();
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Sends a QoS 1/2 message of the bridge's local session under that session's packet id and DUP
   * flag: the local session keeps its ids and states across reconnections and restarts, so its
   * resend (PUBLISH with DUP, or PUBREL) is the resend the remote's session expects [MQTT-4.4.0-1],
   * and a QoS 2 message is not delivered twice by a remote that delivers on PUBLISH.
   * `acked` runs on PUBACK, or on PUBREC for QoS 2 (then release() sends the PUBREL).
   */
  forward(packet: PublishPacket, acked: () => void): void {
    const packetId = packet.packetId!;
    this.whenFree(packetId, () => {
      this.pending.set(packetId, { kind: 'forward', acked });
      this.send(packet);
    });
  }

  /** PUBREL for the local session's QoS 2 message with this id (forwarded on this or an earlier connection); `completed` on PUBCOMP. */
  release(packetId: number, completed: () => void): void {
    this.whenFree(packetId, () => {
      this.pending.set(packetId, { kind: 'release', completed });
      this.send({ type: 'pubrel', packetId });
    });
  }

  /** Sends a PUBLISH of the bridge's own; `done` runs when the remote has acknowledged it (at once for QoS 0). */
  publish(packet: PublishPacket, done: () => void): void {
    if (packet.qos === 0) {
      this.send({ ...packet, dup: false });
      done();
      return;
    }
    const packetId = this.allocate({ kind: 'publish', qos: packet.qos, done, released: false });
    this.send({ ...packet, packetId, dup: false });
  }

  subscribe(requests: readonly SubscriptionRequest[]): void {
    if (requests.length === 0) return;
    const packetId = this.allocate({ kind: 'subscribe', filters: requests.map((request) => request.filter) });
    this.send({ type: 'subscribe', packetId, subscriptions: [...requests] });
  }

  unsubscribe(filters: readonly string[]): void {
    if (filters.length === 0) return;
    const packetId = this.allocate({ kind: 'unsubscribe' });
    this.send({ type: 'unsubscribe', packetId, filters: [...filters] });
  }

  /** DISCONNECT, then close (a normal disconnection: the remote drops our will). */
  disconnect(): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected') this.send({ type: 'disconnect' });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.close('bridge stopped');
  }

  /** Cuts the connection without DISCONNECT: the remote publishes our will. */
  destroy(why: string): void {
    this.socket.destroy();
    this.close(why);
  }

  /** Runs `send` now, unless one of the bridge's own packets holds the id: then when it completes. */
  private whenFree(packetId: number, send: () => void): void {
    const holder = this.pending.get(packetId);
    if (holder === undefined || holder.kind === 'forward' || holder.kind === 'release') send();
    else this.parked.set(packetId, send);
  }

  /** An id is free again: a forwarded packet parked behind it goes out. */
  private freed(packetId: number): void {
    const send = this.parked.get(packetId);
    if (send === undefined) return;
    this.parked.delete(packetId);
    send();
  }

  private allocate(entry: Pending): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 1 ? 65535 : id - 1;
      if (!this.pending.has(id) && !this.parked.has(id)) {
        this.pending.set(id, entry);
        return id;
      }
    }
    throw new RangeError('no free packet identifier');
  }

  private send(packet: Packet): void {
    if (this.state === 'closed') return;
    this.lastSent = Date.now();
    this.socket.write(encodePacket(packet, this.version));
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    const error = this.parser.push(chunk, (packet) => {
      this.onPacket(packet);
      return this.state !== 'closed';
    });
    if (error !== undefined) this.destroy(`protocol error from the remote: ${error.message}`);
  }

  private onPacket(packet: Packet): void {
    if (this.state === 'connecting') {
      if (packet.type !== 'connack') return this.destroy(`expected CONNACK, got ${packet.type.toUpperCase()}`);
      if (packet.reasonCode !== 0) {
        this.handlers.refused(packet.reasonCode);
        return this.destroy(`connection refused (${packet.reasonCode})`);
      }
      this.state = 'connected';
      const p = packet.properties;
      if (p?.receiveMaximum !== undefined) this.receiveMaximum = p.receiveMaximum;
      if (p?.maximumPacketSize !== undefined) this.maximumPacketSize = p.maximumPacketSize;
      if (p?.maximumQoS !== undefined) this.maximumQos = p.maximumQoS;
      if (p?.retainAvailable === 0) this.retainAvailable = false;
      this.startKeepalive(p?.serverKeepAlive ?? this.options.connect.keepalive);
      this.handlers.connected(packet);
      return;
    }
    switch (packet.type) {
      case 'publish':
        return this.onPublish(packet);
      case 'puback':
      case 'pubcomp':
        return this.finish(packet.packetId);
      case 'pubrec': {
        const entry = this.pending.get(packet.packetId);
        if (entry?.kind === 'forward') {
          // the local session answers with PUBREL (even after a failure code, which ends the flow
          // at the remote: its PUBCOMP to that PUBREL then completes the local side too)
          entry.acked();
          return;
        }
        if (entry?.kind !== 'publish') return;
        if ((packet.reasonCode ?? 0) >= 0x80) return this.finish(packet.packetId); // the remote dropped it (MQTT 5.0 §4.3.3)
        entry.released = true;
        this.send({ type: 'pubrel', packetId: packet.packetId });
        return;
      }
      case 'pubrel':
        this.options.incomingQos2.delete(packet.packetId); // [MQTT-4.3.3-11]
        this.send({ type: 'pubcomp', packetId: packet.packetId });
        return;
      case 'suback': {
        const entry = this.pending.get(packet.packetId);
        if (entry?.kind !== 'subscribe') return;
        this.pending.delete(packet.packetId);
        this.freed(packet.packetId);
        packet.reasonCodes.forEach((code, i) => {
          if (code >= 0x80) this.handlers.subscribeFailed(entry.filters[i] ?? '', code);
        });
        return;
      }
      case 'unsuback':
        if (this.pending.get(packet.packetId)?.kind !== 'unsubscribe') return;
        this.pending.delete(packet.packetId);
        this.freed(packet.packetId);
        return;
      case 'pingresp':
        return;
      case 'disconnect':
        return this.destroy(`the remote disconnected (reason ${packet.reasonCode ?? 0})`);
      default:
        return this.destroy(`unexpected ${packet.type.toUpperCase()} from the remote`);
    }
  }

  private onPublish(packet: PublishPacket): void {
    if (packet.qos === 0) {
      this.handlers.message(packet, () => undefined);
      return;
    }
    const packetId = packet.packetId!;
    if (packet.qos === 2) {
      // [MQTT-4.3.3-10] a resent PUBLISH whose PUBREC we sent is acknowledged again, not delivered again
      if (this.options.incomingQos2.has(packetId)) return this.send({ type: 'pubrec', packetId });
      if (this.incomingPending.has(packetId)) return;
      this.incomingPending.add(packetId);
    }
    // The payload may be a view into the read buffer; the local broker keeps what it needs.
    this.handlers.message(packet, () => {
      if (packet.qos === 1) return this.send({ type: 'puback', packetId });
      this.incomingPending.delete(packetId);
      this.options.incomingQos2.add(packetId);
      this.send({ type: 'pubrec', packetId });
    });
  }

  /** PUBACK or PUBCOMP. */
  private finish(packetId: number): void {
    const entry = this.pending.get(packetId);
    if (entry === undefined) return;
    if (entry.kind === 'forward') {
      this.pending.delete(packetId);
      return entry.acked(); // PUBACK of a forwarded QoS 1 message
    }
    if (entry.kind === 'release') {
      this.pending.delete(packetId);
      return entry.completed();
    }
    if (entry.kind !== 'publish') return;
    this.pending.delete(packetId);
    this.freed(packetId);
    entry.done();
  }

  /** PINGREQ after a keepalive period without sending; closes after 1.5 periods without hearing [MQTT-3.1.2-24]. */
  private startKeepalive(seconds: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (seconds === 0) return;
    const period = seconds * 1000;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastReceived > period * 1.5) return this.destroy('keepalive timeout');
      if (now - this.lastSent >= period) this.send({ type: 'pingreq' });
    }, Math.max(250, period / 4));
    this.timer.unref();
  }

  private close(why: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.socket.destroy();
    this.pending.clear(); // unacknowledged messages stay in the local session and are sent again
    this.parked.clear();
    this.handlers.closed(why);
  }
}

/** Node TLS options for bridge_cafile/capath/certfile/keyfile/insecure/tls_version/alpn, or bridge_identity/psk. */
function tlsOptions(tls: BridgeTls, host: string): Record<string, unknown> {
  const minVersion = { 'tlsv1.3': 'TLSv1.3', 'tlsv1.2': 'TLSv1.2', 'tlsv1.1': 'TLSv1.1' }[tls.version];
  const psk = tls.psk;
  if (psk !== undefined) {
    // TLS-PSK (bridge_identity/bridge_psk): no certificates; Node offers PSK suites up to TLS 1.2
    return {
      pskCallback: () => ({ psk: psk.key, identity: psk.identity }),
      ciphers: 'PSK',
      checkServerIdentity: () => undefined,
      minVersion,
      maxVersion: 'TLSv1.2',
      ...(tls.alpn !== undefined ? { ALPNProtocols: [tls.alpn] } : {}),
    };
  }
  const ca: Buffer[] = [];
  if (tls.cafile !== undefined) ca.push(readFileSync(tls.cafile));
  if (tls.capath !== undefined) {
    for (const name of readdirSync(tls.capath)) if (/\.(crt|pem)$|^[0-9a-f]{8}\.\d+$/.test(name)) ca.push(readFileSync(join(tls.capath, name)));
  }
  return {
    ca,
    ...(tls.certfile !== undefined ? { cert: readFileSync(tls.certfile), key: readFileSync(tls.keyfile!) } : {}),
    ...(isIP(host) === 0 ? { servername: host } : {}),
    // bridge_insecure: the chain is still verified, only the host name check is skipped
    ...(tls.insecure ? { checkServerIdentity: () => undefined } : {}),
    minVersion,
    ...(tls.alpn !== undefined ? { ALPNProtocols: [tls.alpn] } : {}),
  };
}
