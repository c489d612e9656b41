// One connection's protocol state machine: CONNECT → connected → closed. It receives parsed
// packets from the transport, dispatches each to its handler, and turns protocol errors into the
// right CONNACK or DISCONNECT, a log line and a close. It never touches the socket directly.

import type { ConnectPacket, Packet, Properties, ProtocolVersion, PubackPacket, PubcompPacket, PubrecPacket, PubrelPacket, SubackPacket, UnsubackPacket, Will } from '../protocol/packets.js';
import { encodePacket } from '../protocol/writer.js';
import type { ProtocolError } from '../protocol/errors.js';
import { ReasonCode, reasonCodeName } from '../protocol/reason-codes.js';
import type { ClientIdentity } from '../auth/port.js';
import type { Broker } from './broker.js';
import type { ClientLink } from './link.js';
import type { Session } from './session.js';
import { handleConnect, refuseConnect } from './handlers/connect.js';
import { handlePublish, handlePuback, handlePubrec, handlePubrel, handlePubcomp } from './handlers/publish.js';
import { handleSubscribe, handleUnsubscribe } from './handlers/subscribe.js';
import { handleDisconnect, publishWill } from './handlers/disconnect.js';
import { handleAuth, type AuthExchange } from './handlers/auth.js';

/** The largest packet MQTT can express: a client that set no Maximum Packet Size. */
const noLimit = 268_435_460;

export type ChannelState = 'awaiting-connect' | 'connected' | 'closed';

type HandlerResult = void | Promise<void>;

export class Channel {
  state: ChannelState = 'awaiting-connect';
  version: ProtocolVersion = 4;
  clientId = '';
  username: string | undefined = undefined;
  session: Session | null = null;
  will: Will | undefined = undefined;
  /** Seconds; 0 = no keepalive. */
  keepalive = 0;
  /** Topic aliases the client has set on this connection (v5); made on first use, as most clients set none. */
  topicAliases: Map<number, string> | undefined = undefined;
  /** The client asked for reason strings and user properties on errors (v5 Request Problem Information). */
  problemInformation = true;
  /** The v5 client's Maximum Packet Size from its CONNECT; no limit before CONNECT and for v3 clients. */
  peerMaxPacketSize = noLimit;
  /** Session Expiry Interval given on CONNECT was 0 (then DISCONNECT may not raise it, MQTT 5.0 §3.14.2.2.2). */
  connectExpiryWasZero = true;
  /** A 3.1/3.1.1 client that set the bridge bit (Mosquitto's try_private): its subscriptions are No Local and Retain As Published. */
  isBridge = false;
  /** The Authentication Method of this connection's CONNECT (v5 enhanced authentication), if any. */
  authMethod: string | undefined = undefined;
  /**
   * What a client admitted by the password check logged in with, so that a reload of the password
   * file can check it again (Broker.reauthenticate). Unset for certificate and enhanced (AUTH) logins.
   */
  credentials: ConnectPacket | undefined = undefined;
  /** The AUTH exchange waiting for the client's next AUTH 0x18, if one is in progress. */
  authExchange: AuthExchange | undefined = undefined;
  /** The last write waiting for the store (see whenDurable), while one is pending. */
  private durableWrites: Promise<void> | undefined = undefined;
  private lastActivity = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** Packets that arrived while an asynchronous check (auth) was pending, in order. */
  private backlog: Packet[] | null = null;
  private identityCache: ClientIdentity | undefined;

  constructor(
    readonly broker: Broker,
    readonly link: ClientLink,
  ) {
    this.armTimer(broker.options.connectTimeout * 1000);
  }

  get identity(): ClientIdentity {
    return (this.identityCache ??= {
      clientId: this.clientId,
      username: this.username,
      remoteAddress: this.link.remoteAddress,
      listener: this.link.listener,
    });
  }

  /**
   * The Reason String for an acknowledgement that reports a problem (v5 PUBACK, PUBREC, PUBREL,
   * PUBCOMP, SUBACK, UNSUBACK): left out when the client set Request Problem Information to 0
   * [MQTT-3.1.2-29]. sendAck() leaves it out too where it would not fit the client's limit.
   */
  problem(reasonString: string): Properties | undefined {
    if (this.version !== 5 || !this.problemInformation) return undefined;
    return { reasonString };
  }

  /**
   * Writes an acknowledgement, trimmed to the client's Maximum Packet Size (see trimmedToPeerLimit).
   */
  sendAck(packet: PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket | SubackPacket | UnsubackPacket): void {
    this.link.writePacket(this.version === 5 ? this.trimmedToPeerLimit(packet) : packet, this.version);
  }

  /**
   * A v5 packet without its Reason String and User Properties where they would make it larger than
   * the client's Maximum Packet Size: CONNACK [MQTT-3.2.2-19][MQTT-3.2.2-20], PUBACK..PUBCOMP
   * [MQTT-3.4.2-2][MQTT-3.4.2-3] and their like, SUBACK [MQTT-3.9.2-1], UNSUBACK [MQTT-3.11.2-1],
   * DISCONNECT [MQTT-3.14.2-3][MQTT-3.14.2-4]. The size is computed only when the client set a
   * limit and the packet has properties, so the usual packet costs one comparison.
   */
  trimmedToPeerLimit<P extends Packet & { properties?: Properties }>(packet: P): P {
    const limit = this.session?.limits.maxPacketSize ?? this.peerMaxPacketSize;
    if (packet.properties === undefined || limit >= noLimit || encodePacket(packet, 5).length <= limit) return packet;
    const { reasonString: _reason, userProperties: _user, ...required } = packet.properties;
    return { ...packet, properties: Object.keys(required).length > 0 ? required : undefined };
  }

  /** Called by the transport for each parsed packet; returns false once the channel is closed. */
  handlePacket(packet: Packet): boolean {
    if (this.state === 'closed') return false;
    this.broker.stats.messagesReceived++;
    this.lastActivity = Date.now();
    if (this.backlog !== null) {
      this.backlog.push(packet);
      return true;
    }
    this.run(this.dispatch(packet));
    return (this.state as ChannelState) !== 'closed'; // the handler may have closed it
  }

  /** The parser found a malformed packet or protocol violation [MQTT-4.13.1-1]. */
  handleProtocolError(error: ProtocolError): void {
    if (this.state === 'closed') return;
    if (error.packetType !== undefined) this.broker.options.logger.log('debug', `Protocol error from ${this.describe()}: ${error.message}${error.statement ? ` [${error.statement}]` : ''}.`);
    if (this.state === 'awaiting-connect') {
      if (error.reasonCode === ReasonCode.PacketTooLarge) {
        // Refused from its fixed header, the CONNECT's protocol level was never read, so no CONNACK
        // format is known to be right: close without one, as Mosquitto does ([MQTT-3.2.2-6] in 3.1.1).
        this.broker.options.logger.log('notice', `Client ${this.describe()} disconnected due to oversize packet.`);
        this.closeQuietly();
        return;
      }
      refuseConnect(this, error.reasonCode, error.message);
      return;
    }
    this.fail(error.reasonCode, error.message);
  }

  /** The transport saw the connection end (peer closed, reset, or our own close). */
  handleClose(): void {
    if (this.state === 'closed') {
      this.broker.connections.delete(this);
      return;
    }
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.broker.connections.delete(this);
    this.clearTimer();
    if (wasConnected) {
      this.broker.options.logger.log('notice', `Client ${this.clientId} closed its connection.`);
      this.leave(true);
    }
  }

  /** Server-initiated close with a reason: DISCONNECT for v5 clients [MQTT-3.14.0-1], then close. */
  disconnect(reasonCode: number, reasonString?: string, sendDisconnect = true): void {
    if (this.state === 'closed') return;
    const connected = this.state === 'connected';
    if (connected && this.version === 5 && sendDisconnect) {
      const properties = reasonString !== undefined && this.problemInformation ? { reasonString } : undefined;
      this.link.writePacket(this.trimmedToPeerLimit({ type: 'disconnect', reasonCode, ...(properties ? { properties } : {}) }), 5);
    }
    this.state = 'closed';
    this.clearTimer();
    this.link.close();
    // No wills on a graceful stop: the clients did nothing wrong, and nobody is left to receive them.
    if (connected) this.leave(reasonCode !== ReasonCode.NormalDisconnection && !this.broker.isClosing);
  }

  /** An administrator removed the client: DISCONNECT for v5, close, and no will. */
  disconnectWithoutWill(reasonCode: number): void {
    this.will = undefined;
    this.disconnect(reasonCode);
  }

  /**
   * Another connection took this client id [MQTT-3.1.4-3]. The old will is sent unless the new
   * connection resumes the session and the will has a delay (MQTT 5.0 §3.1.3.2.2).
   */
  takenOver(newCleanStart: boolean): void {
    if (this.state !== 'connected') return;
    const willDelay = this.will?.properties?.willDelayInterval ?? 0;
    if (this.version === 5) this.link.writePacket({ type: 'disconnect', reasonCode: ReasonCode.SessionTakenOver }, 5);
    this.state = 'closed';
    this.clearTimer();
    this.link.close();
    this.leave(newCleanStart || willDelay === 0);
  }

  /** The client sent DISCONNECT: close without answering; a will left in place (reason 0x04) is sent. */
  clientDisconnected(): void {
    if (this.state !== 'connected') return;
    this.state = 'closed';
    this.clearTimer();
    this.link.close();
    this.leave(true);
  }

  /** Closes without a word: a refused CONNECT, or a socket that never sent one. */
  closeQuietly(): void {
    this.state = 'closed';
    this.clearTimer();
    this.link.close();
  }

  /** A protocol violation by a connected client: log it, tell a v5 client why, close [MQTT-4.13.1-1]. */
  fail(reasonCode: number, why: string, sendDisconnect = true): void {
    const what = reasonCode === ReasonCode.MalformedPacket ? 'malformed packet' : reasonCodeName(reasonCode);
    this.broker.options.logger.log('notice', `Client ${this.describe()} disconnected due to ${what}: ${why}.`);
    this.disconnect(reasonCode, why, sendDisconnect);
  }

  /** Marks the channel connected and starts the keepalive watch [MQTT-3.1.2-24]. */
  connected(session: Session): void {
    this.state = 'connected';
    this.session = session;
    this.identityCache = undefined;
    this.clearTimer();
    if (this.keepalive > 0) this.armTimer(this.keepalive * 1500);
  }

  /** Re-authentication named the client anew: later checks see the new username. */
  setUsername(username: string): void {
    this.username = username;
    this.identityCache = undefined;
    if (this.will !== undefined) this.broker.cluster?.clientRenamed(this.identity);
  }

  /**
   * Runs a write (an acknowledgement) once every change recorded so far is durable, and after the
   * writes queued before it, so acknowledgements keep the order of the packets they answer
   * [MQTT-4.6.0-2][MQTT-4.6.0-3]. Later packets of the connection are handled meanwhile: one
   * connection gets many messages into one commit. Runs the write at once when nothing is pending.
   */
  whenDurable(write: () => void): void {
    const after = this.broker.persistence?.sync() ?? this.durableWrites;
    if (after === undefined) return write();
    const done = after.then(() => {
      if (this.state !== 'closed') write();
    });
    this.durableWrites = done;
    done.then(
      () => {
        if (this.durableWrites === done) this.durableWrites = undefined;
      },
      (error: unknown) => {
        if (this.durableWrites === done) this.durableWrites = undefined;
        this.broker.options.logger.log('error', `Error: persistence failed, ${this.describe()} not acknowledged: ${error instanceof Error ? error.message : String(error)}.`);
        this.disconnect(ReasonCode.UnspecifiedError);
      },
    );
  }

  describe(): string {
    return this.clientId !== '' ? this.clientId : `<unknown> (${this.link.remoteAddress})`;
  }

  private dispatch(packet: Packet): HandlerResult {
    if (this.state === 'awaiting-connect') {
      if (this.authExchange !== undefined) {
        if (packet.type === 'auth') return handleAuth(this, packet);
        return this.fail(ReasonCode.ProtocolError, `${packet.type.toUpperCase()} during the authentication exchange`);
      }
      if (packet.type !== 'connect') return this.fail(ReasonCode.ProtocolError, `first packet was ${packet.type.toUpperCase()}, not CONNECT [MQTT-3.1.0-1]`);
      return handleConnect(this, packet);
    }
    switch (packet.type) {
      case 'publish':
        return handlePublish(this, packet);
      case 'puback':
        return handlePuback(this, packet);
      case 'pubrec':
        return handlePubrec(this, packet);
      case 'pubrel':
        return handlePubrel(this, packet);
      case 'pubcomp':
        return handlePubcomp(this, packet);
      case 'subscribe':
        return handleSubscribe(this, packet);
      case 'unsubscribe':
        return handleUnsubscribe(this, packet);
      case 'pingreq':
        this.link.writePacket({ type: 'pingresp' }, this.version); // [MQTT-3.12.4-1]
        return;
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'connect':
        // Closed without a DISCONNECT (which §4.13 makes optional), as Mosquitto does: a client that
        // sends a second CONNECT has lost track of the connection, and one reading its socket from
        // two threads (the Eclipse Paho interoperability suite's) can hang on a DISCONNECT it half reads.
        return this.fail(ReasonCode.ProtocolError, 'second CONNECT [MQTT-3.1.0-2]', false);
      case 'auth':
        return handleAuth(this, packet);
      default:
        return this.fail(ReasonCode.ProtocolError, `${packet.type.toUpperCase()} may only be sent by a server`);
    }
  }

  /** Runs a handler's result: a promise holds later packets back, in order, until it settles. */
  private run(result: HandlerResult): void {
    if (result === undefined) return;
    this.backlog = [];
    this.link.pause();
    result.then(
      () => this.drainBacklog(),
      (error: unknown) => {
        this.broker.options.logger.log('error', `Error handling a packet from ${this.describe()}: ${String(error)}.`);
        this.backlog = null;
        this.disconnect(ReasonCode.UnspecifiedError);
      },
    );
  }

  private drainBacklog(): void {
    const waiting = this.backlog;
    this.backlog = null;
    if (waiting === null) return;
    for (let i = 0; i < waiting.length; i++) {
      if (this.state === 'closed') return;
      if (this.backlog !== null) {
        // another check became pending: keep the rest behind it
        (this.backlog as Packet[]).push(...waiting.slice(i));
        return;
      }
      this.run(this.dispatch(waiting[i]!));
    }
    if (this.state !== 'closed' && this.backlog === null) this.link.resume();
  }

  /** The client is gone: its will per spec, then its session waits or ends. */
  private leave(sendWill: boolean): void {
    const session = this.session;
    if (session === null) return;
    if (this.broker.channels.get(this.clientId) === this) this.broker.channels.delete(this.clientId);
    if (sendWill && this.will !== undefined) publishWill(this, this.will, session.expiryInterval);
    else if (this.will !== undefined) this.broker.cluster?.willSettled(this.clientId);
    this.will = undefined;
    this.broker.sessionDisconnected(session, Date.now());
    this.session = null;
  }

  private armTimer(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.onTimer(ms), ms);
    this.timer.unref();
  }

  private onTimer(period: number): void {
    this.timer = undefined;
    if (this.state === 'awaiting-connect') {
      this.broker.options.logger.log('notice', `Client ${this.describe()} did not send CONNECT in time, closing.`);
      this.closeQuietly();
      return;
    }
    if (this.state !== 'connected') return;
    const idle = Date.now() - this.lastActivity;
    if (idle >= period) {
      this.broker.options.logger.log('notice', `Client ${this.clientId} has exceeded timeout, disconnecting.`);
      this.disconnect(ReasonCode.KeepAliveTimeout); // [MQTT-3.1.2-24] 1.5 × keepalive without a packet
      return;
    }
    this.timer = setTimeout(() => this.onTimer(period), period - idle);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
