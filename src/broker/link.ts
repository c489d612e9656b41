// What a channel needs from its network connection. The transport (TCP, TLS, WebSocket) implements
// it; the broker never touches a socket. Writes are batched by the transport and flushed once per
// event-loop turn, so a channel may write many packets without a syscall each.

import type { Packet, ProtocolVersion } from '../protocol/packets.js';
import type { EncodedPublish } from '../protocol/writer.js';

export interface ClientLink {
  /** "ip:port" of the peer, for logs. */
  readonly remoteAddress: string;
  /** The listener's name, e.g. "mqtt:1883". */
  readonly listener: string;
  /** Local port, for Mosquitto's "New connection from ... on port N." line. */
  readonly localPort: number;
  /** Protocol version the parser is reading (known from the CONNECT's level byte even if the CONNECT failed). */
  readonly parserVersion: ProtocolVersion;
  /**
   * Set only on a TLS listener with use_identity_as_username / use_subject_as_username: the
   * certificate's CN (or subject), used as the username instead of the CONNECT's; null when the
   * client sent no certificate (it is then refused as not authorised, as Mosquitto does).
   */
  readonly certificateIdentity?: string | null | undefined;
  /**
   * Set on the in-process link of a bridge's local side: a broker-internal client that is not
   * authenticated and passes every ACL check, as Mosquitto's bridges do.
   */
  readonly privileged?: boolean;
  /** Bytes written but not yet accepted by the socket: a slow consumer's backlog. */
  readonly backlog: number;
  writePacket(packet: Packet, version: ProtocolVersion): void;
  /** Writes a shared, already encoded PUBLISH with this subscriber's packet id and DUP flag patched in. */
  writePublish(encoded: EncodedPublish, packetId: number, dup: boolean): void;
  /** Flushes what is queued, then closes the connection. */
  close(): void;
  /** Stops reading from the peer (while an asynchronous check is pending) and starts again. */
  pause(): void;
  resume(): void;
  /** Changes the largest packet the parser accepts from this peer. */
  setMaxIncomingPacketSize(bytes: number): void;
}
