// The composition root of the broker core: sessions, router, retained messages, wills, the ports
// (store, auth, log) and the lifecycle. Transports hand it connections through accept(); it knows
// nothing of sockets.

import type { ClientIdentity } from '../auth/port.js';
import type { Will, QoS, Properties } from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { Channel } from './channel.js';
import type { ClusterPort } from './cluster-port.js';
import type { ClientLink } from './link.js';
import { Message } from './message.js';
import type { BrokerOptions } from './options.js';
import { Persistence } from './persistence.js';
import { RetainedMessages } from './retained.js';
import { Router } from './router.js';
import { NEVER_EXPIRES, Session, type SessionCounters, type SessionLimits } from './session.js';
import { Timers } from './timers.js';

/**
 * Counters since start, read by $SYS and /metrics. Each is a plain integer incremented where the
 * event happens: no allocation, no callback on the hot path.
 */
export interface BrokerStats extends SessionCounters {
  /** Sockets accepted (Mosquitto's load/sockets). */
  connectionsTotal: number;
  /** Successful CONNECTs (Mosquitto's load/connections). */
  clientsAccepted: number;
  /** Most connections open at once. */
  maxConnected: number;
  /** Most sessions (connected or not) at once: $SYS/broker/clients/maximum. */
  maxClients: number;
  /** Disconnected sessions that reached their expiry. */
  clientsExpired: number;
  /** MQTT packets of every type received and sent. */
  messagesReceived: number;
  messagesSent: number;
  publishReceived: number;
  publishBytesReceived: number;
  bytesReceived: number;
  bytesSent: number;
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  properties?: Properties;
}

export class Broker {
  readonly options: BrokerOptions;
  readonly stats: BrokerStats = {
    dropped: 0,
    sent: 0,
    publishBytesSent: 0,
    connectionsTotal: 0,
    clientsAccepted: 0,
    maxConnected: 0,
    maxClients: 0,
    clientsExpired: 0,
    messagesReceived: 0,
    messagesSent: 0,
    publishReceived: 0,
    publishBytesReceived: 0,
    bytesReceived: 0,
    bytesSent: 0,
  };
  /** When the broker was created (epoch ms), for $SYS/broker/uptime. */
  readonly startedAt = Date.now();
  readonly router: Router;
  readonly retained = new RetainedMessages((message) => this.persistence?.retainedExpired(message));
  /** Every session, connected or not, by client id. */
  readonly sessions = new Map<string, Session>();
  /** The connected channel of each client id. */
  readonly channels = new Map<string, Channel>();
  /** Every open connection, including those that have not sent CONNECT yet. */
  readonly connections = new Set<Channel>();
  /** Records durable state; undefined when the store is not durable (nothing is recorded then). */
  readonly persistence: Persistence | undefined;
  private readonly expiryTimers = new Timers();
  private readonly willTimers = new Timers();
  private closing = false;
  /** The cluster backplane, when this broker is one node of several (set once, before listening). */
  cluster: ClusterPort | undefined = undefined;
  private restoring: Promise<void> | undefined;

  constructor(options: BrokerOptions) {
    this.options = options;
    this.persistence = options.store.durable ? new Persistence(options.store) : undefined;
    const authorizer = this.options.authorizer;
    this.router = new Router((session, message) => {
      const channel = this.channels.get(session.clientId);
      return channel === undefined || channel.link.privileged === true ? true : authorizer.canReceive(channel.identity, message.topic);
    });
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /**
   * Loads what the store kept (sessions, retained messages, queues); runs once, before the first
   * listener opens. Nothing to do with the memory store.
   */
  restore(): Promise<void> {
    if (this.persistence === undefined) return Promise.resolve();
    return (this.restoring ??= this.persistence.restore(this));
  }

  /** A transport has a new connection: the broker gives it a protocol channel. */
  accept(link: ClientLink): Channel {
    const channel = new Channel(this, link);
    this.connections.add(channel);
    this.stats.connectionsTotal++;
    if (this.connections.size > this.stats.maxConnected) this.stats.maxConnected = this.connections.size;
    return channel;
  }

  /** Publishes a message as the broker itself (for the library API, $SYS, wills). */
  publish(topic: string, payload: Buffer | string, options: PublishOptions = {}): number {
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const now = Date.now();
    const expiry = options.properties?.messageExpiryInterval;
    const message = new Message(topic, body, options.qos ?? 0, options.retain ?? false, options.properties, expiry ? now + expiry * 1000 : 0, undefined, now);
    return this.route(message, now);
  }

  /** Routes an accepted message: retained store, then every matching session. */
  route(message: Message, now: number): number {
    const cluster = this.cluster;
    if (message.retain) {
      if (this.retained.update(message)) this.persistence?.retainedChanged(message);
      if (cluster !== undefined) cluster.retainedChanged(message);
    }
    if (cluster !== undefined) return cluster.route(message, now);
    return this.router.publish(message, now);
  }

  sessionLimits(receiveMaximum: number, maxPacketSize: number, topicAliasMaximum = 0): SessionLimits {
    const o = this.options;
    const brokerInflight = o.maxInflightMessages === 0 ? 65535 : o.maxInflightMessages;
    return {
      inflight: Math.min(receiveMaximum, brokerInflight),
      maxQueuedMessages: o.maxQueuedMessages,
      maxQueuedBytes: o.maxQueuedBytes,
      maxSocketBacklog: o.maxSocketBacklog,
      maxPacketSize,
      topicAliasMaximum: o.topicAliasOut ? topicAliasMaximum : 0,
    };
  }

  /** Finds or creates the session for a CONNECT; discards an old one on clean start [MQTT-3.1.2-4]. */
  openSession(clientId: string, clean: boolean, version: Session['version'], limits: SessionLimits): { session: Session; present: boolean } {
    this.expiryTimers.cancel(clientId);
    const existing = this.sessions.get(clientId);
    if (existing !== undefined && !clean) return { session: existing, present: true }; // [MQTT-3.2.2-3]
    if (existing !== undefined) this.discardSession(existing);
    const session = new Session(clientId, version, limits, this.stats);
    this.sessions.set(clientId, session);
    if (this.sessions.size > this.stats.maxClients) this.stats.maxClients = this.sessions.size;
    return { session, present: false }; // [MQTT-3.2.2-2]
  }

  /**
   * Before a CONNECT is answered on a cluster node with a shared store (Redis): the node that held
   * the client id hands the session over (it commits it and lets it go), then a resumed session is
   * read from the store, so the CONNACK says session present [MQTT-3.2.2-3], while a clean start
   * deletes what the store had [MQTT-3.1.2-4]. Undefined, nothing to wait for, on a single node and
   * for a session this node holds: their CONNECT path is unchanged.
   */
  prepareSession(clientId: string, clean: boolean): Promise<void> | undefined {
    const persistence = this.persistence;
    if (persistence === undefined || !persistence.shared) return undefined;
    // adopted here from a dead node: its inbox replay into the session comes before the client
    if (this.sessions.has(clientId)) return this.cluster?.adopting?.(clientId);
    return (async () => {
      try {
        await this.cluster?.handOver?.(clientId, clean);
        if (this.sessions.has(clientId)) return; // adopted by this node meanwhile
        if (clean) persistence.deleteStored(clientId);
        else await persistence.fetchSession(this, clientId);
      } finally {
        // what the old node re-forwarded meanwhile goes to the session now, after what the store held
        this.cluster?.sessionArrived?.(clientId, clean ? undefined : this.sessions.get(clientId));
      }
    })();
  }

  /**
   * Another node takes this client id over (cluster with a shared store): the connection here
   * closes (0x8E for v5), and the session is committed and let go without being deleted, for that
   * node to read. Resolves once the store has it. A resumed session is cut from the router before its
   * last commit: atCut (the cluster's hand-over window) then takes over what would have reached it.
   */
  async handOverSession(clientId: string, clean: boolean, atCut?: (session: Session) => void): Promise<void> {
    const channel = this.channels.get(clientId);
    if (channel !== undefined) {
      this.options.logger.log('notice', `Client ${clientId} connected to another node, closing old connection.`);
      channel.takenOver(clean);
    }
    // [MQTT-3.1.3-9] a resumed session came back in time; a clean start ends it, will included
    if (clean) this.willTimers.fire(clientId);
    else this.willTimers.cancel(clientId);
    const session = this.sessions.get(clientId);
    const persistence = this.persistence;
    if (session === undefined || persistence === undefined) return;
    this.expiryTimers.cancel(clientId);
    if (!clean && atCut !== undefined) {
      // nothing reaches the session after its journal is cut: the window re-forwards it instead
      atCut(session);
      for (const subscription of session.subscriptions.values()) this.router.remove(subscription);
    }
    // never deleted here, even for a clean start: the taking node may be writing it already, and it
    // deletes the stored session itself before its own writes [MQTT-3.1.2-4]
    await persistence.handOver(session);
    if (this.sessions.get(clientId) !== session) return;
    for (const subscription of session.subscriptions.values()) this.router.remove(subscription);
    session.subscriptions.clear();
    session.clearMessages();
    this.sessions.delete(clientId);
    this.cluster?.sessionEnded(clientId);
  }

  /** A connection left: the session waits for its client, or ends now if its expiry is 0. */
  sessionDisconnected(session: Session, now: number): void {
    session.detach(now);
    const expiry = session.expiryInterval;
    if (expiry === 0) {
      this.endSession(session);
      return;
    }
    this.persistence?.sessionDisconnected(session);
    if (expiry === NEVER_EXPIRES) return;
    this.scheduleExpiry(session, expiry * 1000);
  }

  /** Ends a disconnected session after ms unless its client comes back [MQTT-3.1.2-23]. */
  scheduleExpiry(session: Session, ms: number): void {
    this.expiryTimers.schedule(session.clientId, ms, () => {
      if (this.sessions.get(session.clientId) !== session || session.link !== null) return;
      this.stats.clientsExpired++;
      this.endSession(session);
    });
  }

  /** The session's end: a delayed will is sent now at the latest [MQTT-3.1.3-9], then state is dropped. */
  endSession(session: Session): void {
    this.willTimers.fire(session.clientId);
    this.discardSession(session);
  }

  /** Publishes a will, after its delay when it has one; reconnecting in time cancels it [MQTT-3.1.3-9]. */
  scheduleWill(clientId: string, will: Will, delaySeconds: number, sendWill: () => void): void {
    if (delaySeconds <= 0) {
      sendWill();
      return;
    }
    this.willTimers.schedule(clientId, delaySeconds * 1000, sendWill);
  }

  cancelWill(clientId: string): void {
    this.willTimers.cancel(clientId);
  }

  /**
   * Checks every client that logged in with a username and password again, after the source of
   * truth changed (a password file re-read on SIGHUP, say), and disconnects those that no longer pass
   * — v5 clients with DISCONNECT 0x98 Administrative action — as Mosquitto does after a reload.
   * Resolves to the number of clients disconnected.
   */
  async reauthenticate(): Promise<number> {
    const checks: Promise<boolean>[] = [];
    for (const channel of this.channels.values()) {
      const connect = channel.credentials;
      if (connect === undefined || channel.state !== 'connected') continue;
      const verdict = this.options.authenticator.authenticate({
        clientId: channel.clientId,
        username: connect.username,
        password: connect.password,
        remoteAddress: channel.link.remoteAddress,
        listener: channel.link.listener,
        connect,
      });
      const apply = (result: { reasonCode: number }): boolean => {
        if (result.reasonCode === ReasonCode.Success || channel.state !== 'connected') return false;
        this.options.logger.log('notice', `Client ${channel.clientId} disconnected, no longer authorised.`);
        channel.disconnect(ReasonCode.AdministrativeAction, 'no longer authorised');
        return true;
      };
      checks.push(verdict instanceof Promise ? verdict.then(apply) : Promise.resolve(apply(verdict)));
    }
    const outcomes = await Promise.all(checks);
    return outcomes.filter(Boolean).length;
  }

  /**
   * Another node of the cluster took this client id: its connection here closes (0x8E for v5) and
   * the session here ends, since it continues there. A client that resumes (clean false) came back
   * in time, so a delayed will is cancelled; a clean start ends the old session, will included.
   */
  takenOverRemotely(clientId: string, clean: boolean): void {
    if (this.persistence?.shared === true) {
      // sessions in Redis: the session is let go without deleting it (the taking node reads it)
      void this.handOverSession(clientId, clean).catch(() => undefined);
      return;
    }
    const channel = this.channels.get(clientId);
    if (channel !== undefined) {
      this.options.logger.log('notice', `Client ${clientId} connected to another node, closing old connection.`);
      channel.takenOver(clean);
    }
    if (!clean) this.willTimers.cancel(clientId);
    const session = this.sessions.get(clientId);
    if (session !== undefined && session.link === null) this.endSession(session);
  }

  /**
   * Disconnects the connected clients that match, as Mosquitto's mosquitto_kick_client_by_username
   * does for plugins: v5 clients get DISCONNECT with reasonCode (0x98 Administrative action), wills
   * are not sent. Returns how many were disconnected.
   */
  disconnectClients(match: (client: ClientIdentity) => boolean, reasonCode: number = ReasonCode.AdministrativeAction): number {
    let count = 0;
    for (const channel of [...this.channels.values()]) {
      if (channel.state !== 'connected' || !match(channel.identity)) continue;
      this.options.logger.log('notice', `Client ${channel.clientId} been disconnected by administrative action.`);
      channel.disconnectWithoutWill(reasonCode);
      count++;
    }
    return count;
  }

  /** Graceful stop: v5 clients get DISCONNECT 0x8B Server shutting down, then every connection closes. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const channel of [...this.connections]) channel.disconnect(ReasonCode.ServerShuttingDown);
    this.expiryTimers.clear();
    this.willTimers.clear();
    this.retained.stop();
    if (this.cluster !== undefined) await this.cluster.close();
    await this.options.store.close();
  }

  /**
   * Drops a session's state. Its unacknowledged messages that came through a shared subscription
   * go to another member of the group (MQTT 5.0 §4.8.2 SHOULD; Mosquitto loses them, issue #2662),
   * except QoS 2 messages already sent to this client, which must not [MQTT-4.8.2-5].
   * This happens when the session ends, not when its connection drops: a session that outlives its
   * connection gets them again, with DUP, when the client comes back [MQTT-4.4.0-1].
   */
  private discardSession(session: Session): void {
    // A QoS 2 message whose PUBREL was sent has reached the client; one whose PUBLISH was sent may
    // have: neither is given to another member [MQTT-4.8.2-5]. Queued ones and QoS 1 ones are.
    const orphans = this.closing ? [] : session.outgoing().filter((entry) => entry.group !== undefined && entry.state !== 'pubrel' && !(entry.qos === 2 && entry.state === 'publish'));
    this.persistence?.sessionDiscarded(session);
    for (const subscription of session.subscriptions.values()) this.router.remove(subscription);
    session.subscriptions.clear();
    session.clearMessages();
    if (this.sessions.get(session.clientId) === session) {
      this.sessions.delete(session.clientId);
      this.cluster?.sessionEnded(session.clientId);
    }
    if (orphans.length === 0) return;
    const now = Date.now();
    for (const entry of orphans) {
      if (!entry.message.isExpired(now)) this.router.redeliverShared(entry.group!, entry.message, now); // [MQTT-3.3.2-5]
    }
  }
}
