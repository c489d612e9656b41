// One bridge connection and its lifecycle: connect to the remote (each address in turn), then
// attach the local side; on loss, detach the local side (its session keeps queueing) and connect
// again after the restart delay (start_type automatic), when enough is queued (lazy), or never
// (once). Messages cross with the topic rules' QoS and prefix remapping.

import { connect as connectTcp } from 'node:net';
import type { Broker } from '../broker/broker.js';
import { NEVER_EXPIRES } from '../broker/session.js';
import { encodePublish } from '../protocol/writer.js';
import type { ConnackPacket, ConnectPacket, Properties, PublishPacket, QoS, SubscriptionRequest } from '../protocol/packets.js';
import type { BridgeConfig } from './config.js';
import { LocalClient } from './local-client.js';
import { CONNECTED, DISCONNECTED, notifyLocally, remoteWill } from './notifications.js';
import { RemoteClient } from './remote-client.js';
import { RestartDelay } from './restart-delay.js';
import { incomingRules, localTopicFor, outgoingRules, remoteTopicFor } from './topic-map.js';

/** `standby`: in a cluster, another node runs this bridge. */
export type BridgeState = 'connecting' | 'connected' | 'waiting' | 'idle' | 'stopped' | 'standby';

export interface BridgeCounters {
  /** Connections the remote accepted. */
  connects: number;
  /** Connection attempts that failed or connections lost. */
  failures: number;
  /** Messages sent to the remote (and acknowledged, for QoS 1/2). */
  messagesSent: number;
  /** Messages received from the remote and published locally. */
  messagesReceived: number;
  /** Messages not sent because they were larger than bridge_max_packet_size or the remote's limit. */
  dropped: number;
}

export interface BridgeStatus {
  readonly name: string;
  readonly state: BridgeState;
  /** host:port of the current (or next) address. */
  readonly address: string;
  readonly counters: Readonly<BridgeCounters>;
  /** QoS 1/2 messages waiting in the bridge's local session. */
  readonly queued: number;
}

/** Seconds between a non-primary connection's checks that the primary address is back (Mosquitto: 5). */
const PRIMARY_RETRY_SECONDS = 5;
/** How often a lazy bridge below its threshold looks at its queue. */
const THRESHOLD_CHECK_MS = 250;

export class Bridge {
  state: BridgeState = 'connecting';
  readonly counters: BridgeCounters = { connects: 0, failures: 0, messagesSent: 0, messagesReceived: 0, dropped: 0 };
  private remote: RemoteClient | undefined;
  private readonly local: LocalClient;
  private readonly delay: RestartDelay;
  private addressIndex = 0;
  private timer: NodeJS.Timeout | undefined;
  private tryPrivate: boolean;
  private lastActivity = Date.now();
  /** Set when a lazy bridge closes its idle connection, so the loss is not counted as a failure. */
  private idleTimedOut = false;
  /** Local QoS 2 ids answered locally (the message went to the remote at QoS 0/1, or was dropped): their PUBREL gets PUBCOMP here. */
  private readonly releasedLocally = new Set<number>();
  /** QoS 2 ids of the remote session that we acknowledged with PUBREC and that were not released yet. */
  private readonly incomingQos2 = new Set<number>();
  private readonly out: ReturnType<typeof outgoingRules>;
  private readonly in: ReturnType<typeof incomingRules>;

  constructor(
    private readonly broker: Broker,
    readonly config: BridgeConfig,
  ) {
    this.local = new LocalClient(broker, config.name, { message: (packet) => this.sendToRemote(packet), release: (packetId) => this.releaseToRemote(packetId) });
    this.delay = new RestartDelay(config.restartTimeout.base, config.restartTimeout.cap);
    this.tryPrivate = config.tryPrivate;
    this.out = outgoingRules(config.topics);
    this.in = incomingRules(config.topics);
  }

  get status(): BridgeStatus {
    const { host, port } = this.config.addresses[this.addressIndex]!;
    return { name: this.config.name, state: this.state, address: `${host}:${port}`, counters: { ...this.counters }, queued: this.queued() };
  }

  start(): void {
    this.state = 'connecting';
    notifyLocally(this.broker, this.config, DISCONNECTED);
    if (!this.config.localCleanSession) {
      // The local session exists and subscribes before the remote is reached, so that messages
      // published meanwhile queue in it; retained ones are sent when the bridge attaches.
      this.connectLocal(2);
      this.local.disconnect();
    }
    if (this.config.startType === 'lazy') {
      // as Mosquitto's manual says (and Debian's 2.0.11 does): a lazy bridge starts once `threshold` messages wait
      this.state = 'idle';
      this.waitForThreshold();
      return;
    }
    this.connect();
  }

  /** In a cluster, while another node runs this bridge. */
  standBy(): void {
    this.state = 'standby';
  }

  /** Stops (for good, unless started again); the local session stays for the next start. */
  stop(): void {
    this.state = 'stopped';
    this.clearTimer();
    const remote = this.remote;
    this.remote = undefined;
    // As Mosquitto when it stops: the socket closes without DISCONNECT, so the remote publishes our "0" will.
    remote?.destroy('bridge stopped');
    this.local.disconnect();
  }

  private connect(): void {
    this.clearTimer();
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    const address = this.config.addresses[this.addressIndex]!;
    this.log('notice', `Connecting bridge ${this.config.name} (${address.host}:${address.port})`);
    try {
      this.remote = new RemoteClient(
        { address, tls: this.config.tls, bindAddress: this.config.bindAddress, connect: this.connectPacket(), incomingQos2: this.incomingQos2 },
        {
          connected: (connack) => this.connected(connack),
          refused: (code) => this.refused(code),
          message: (packet, taken) => this.receiveFromRemote(packet, taken),
          subscribeFailed: (filter, code) => this.log('warning', `Bridge ${this.config.name}: the remote refused the subscription to ${filter} (reason ${code}).`),
          closed: (why) => this.lost(why),
        },
      );
    } catch (error) {
      // e.g. an unreadable bridge_cafile: logged, then retried like any failed connection
      this.lost(error instanceof Error ? error.message : String(error));
    }
  }

  private connectPacket(): ConnectPacket {
    const c = this.config;
    const v5 = c.protocolVersion === 5;
    const will = remoteWill(c);
    const packet: ConnectPacket = {
      type: 'connect',
      protocolName: c.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: c.protocolVersion,
      // try_private on 3.1/3.1.1: bit 7 of the protocol level tells the remote we are a bridge
      bridge: this.tryPrivate && !v5,
      clean: c.cleanSession,
      keepalive: c.keepalive,
      clientId: c.remoteClientId,
    };
    if (will !== undefined) packet.will = will;
    if (c.remoteUsername !== undefined) packet.username = c.remoteUsername;
    if (c.remotePassword !== undefined && c.remoteUsername !== undefined) packet.password = Buffer.from(c.remotePassword);
    if (v5 && !c.cleanSession) packet.properties = { sessionExpiryInterval: NEVER_EXPIRES };
    return packet;
  }

  private connected(connack: ConnackPacket): void {
    const remote = this.remote!;
    const c = this.config;
    this.state = 'connected';
    this.counters.connects++;
    this.delay.reset();
    this.lastActivity = Date.now();
    if (!connack.sessionPresent) this.incomingQos2.clear(); // a new remote session has no QoS 2 state
    this.log('notice', `Bridge ${c.name} connected to ${this.status.address}.`);
    if (c.notifications && !c.notificationsLocalOnly) {
      const qos: QoS = remote.maximumQos === 0 ? 0 : 1;
      remote.publish({ type: 'publish', topic: c.notificationTopic, payload: Buffer.from(CONNECTED), qos, retain: remote.retainAvailable, dup: false }, () => undefined);
    }
    notifyLocally(this.broker, c, CONNECTED);
    const v5 = c.protocolVersion === 5;
    // MQTT 5 bridges ask the remote not to send back what they publish, and to keep retain flags as published
    remote.subscribe(
      this.in.map((rule): SubscriptionRequest => ({ filter: rule.remoteTopic, qos: Math.min(rule.qos, remote.maximumQos) as QoS, noLocal: v5, retainAsPublished: v5, retainHandling: 0 })),
    );
    if (c.attemptUnsubscribe) remote.unsubscribe(this.out.filter((rule) => rule.direction === 'out').map((rule) => rule.remoteTopic));
    this.connectLocal(0);
    this.armConnectedTimer();
  }

  /** Attaches the local side and (re)subscribes the out rules; retainHandling 0 sends the retained messages. */
  private connectLocal(retainHandling: 0 | 2): void {
    const c = this.config;
    const receiveMaximum = this.remote?.connected === true ? this.remote.receiveMaximum : 65535;
    const ok = this.local.connect({
      clientId: c.localClientId,
      clean: c.localCleanSession,
      persistent: !c.localCleanSession,
      username: c.localUsername,
      password: c.localPassword,
      receiveMaximum,
    });
    if (!ok) {
      this.log('error', `Bridge ${c.name}: the local broker refused the bridge's client ${c.localClientId}.`);
      return;
    }
    this.local.subscribe(this.out.map((rule): SubscriptionRequest => ({ filter: rule.localTopic, qos: rule.qos, noLocal: true, retainAsPublished: true, retainHandling })));
  }

  private refused(code: number): void {
    if (this.tryPrivate && code === 1 && this.config.protocolVersion !== 5) {
      // 3.1.1 return code 1 (unacceptable protocol level): the remote does not know the bridge bit
      this.tryPrivate = false;
      this.log('warning', `Bridge ${this.config.name}: the remote refused try_private; connecting as an ordinary client from now on.`);
      return;
    }
    this.log('error', `Bridge ${this.config.name}: the remote refused the connection (${code}).`);
  }

  private lost(why: string): void {
    const wasConnected = this.state === 'connected';
    const wentIdle = this.idleTimedOut;
    this.idleTimedOut = false;
    this.remote = undefined;
    this.clearTimer();
    this.local.disconnect();
    if (this.state === 'stopped') return;
    if (!wentIdle) this.counters.failures++;
    if (wasConnected) notifyLocally(this.broker, this.config, DISCONNECTED);
    if (!wentIdle) this.log('notice', `Bridge ${this.config.name} ${wasConnected ? 'lost its connection' : 'could not connect'} to ${this.status.address}: ${why}.`);
    this.addressIndex = (this.addressIndex + 1) % this.config.addresses.length;
    switch (this.config.startType) {
      case 'once':
        this.state = 'stopped';
        return;
      case 'lazy':
        this.state = 'idle';
        // After a failure, the restart delay passes before the threshold may bring a new attempt.
        this.timer = setTimeout(() => this.waitForThreshold(), wentIdle ? 0 : this.delay.next() * 1000);
        this.timer.unref();
        return;
      case 'automatic': {
        this.state = 'waiting';
        this.timer = setTimeout(() => this.connect(), this.delay.next() * 1000);
        this.timer.unref();
      }
    }
  }

  /** A lazy bridge below its threshold: connects once its local session holds `threshold` messages. */
  private waitForThreshold(): void {
    this.timer = setInterval(() => {
      if (this.queued() >= this.config.threshold) this.connect();
    }, THRESHOLD_CHECK_MS);
    this.timer.unref();
  }

  /** While connected: a lazy bridge's idle check, and a secondary address's check for the primary. */
  private armConnectedTimer(): void {
    const lazy = this.config.startType === 'lazy';
    const onSecondary = !this.config.roundRobin && this.addressIndex !== 0;
    if (!lazy && !onSecondary) return;
    let sinceProbe = 0;
    this.timer = setInterval(() => {
      if (lazy && Date.now() - this.lastActivity > this.config.idleTimeout * 1000) {
        this.log('notice', `Bridge connection ${this.config.name} has exceeded idle timeout, disconnecting.`);
        // as Mosquitto, the socket closes without DISCONNECT, so the remote publishes the "0" will
        this.idleTimedOut = true;
        this.remote?.destroy('idle timeout');
        return;
      }
      if (onSecondary && ++sinceProbe >= PRIMARY_RETRY_SECONDS) {
        sinceProbe = 0;
        this.probePrimary();
      }
    }, 1000);
    this.timer.unref();
  }

  /** Not round robin: when the primary address accepts a TCP connection again, leave the secondary for it (as Mosquitto). */
  private probePrimary(): void {
    const primary = this.config.addresses[0]!;
    const local = this.config.bindAddress === undefined ? {} : { localAddress: this.config.bindAddress };
    const probe = connectTcp({ host: primary.host, port: primary.port, ...local });
    probe.setTimeout(5000, () => probe.destroy());
    probe.on('error', () => probe.destroy());
    probe.on('connect', () => {
      probe.destroy();
      if (this.state !== 'connected') return;
      this.log('notice', `Bridge ${this.config.name}: the primary address ${primary.host}:${primary.port} answers again, reconnecting to it.`);
      this.addressIndex = this.config.addresses.length - 1; // the next address after a loss is the primary
      this.remote?.disconnect();
    });
  }

  /** Messages waiting in the local session: queued, or sent to the bridge while the remote was away (Mosquitto counts both). */
  private queued(): number {
    const session = this.broker.sessions.get(this.config.localClientId);
    return session === undefined ? 0 : session.queuedCount + session.inflight.size;
  }

  /** A message from the local session, for the remote: remapped, checked for size, acknowledged locally once the remote has it. */
  private sendToRemote(packet: PublishPacket): void {
    const remote = this.remote;
    if (remote === undefined || !remote.connected) return; // stays in the session, sent again on the next connection
    this.lastActivity = Date.now();
    const c = this.config;
    const qos = Math.min(packet.qos, remote.maximumQos) as QoS;
    const out: PublishPacket = {
      type: 'publish',
      topic: remoteTopicFor(c.topics, packet.topic),
      payload: packet.payload,
      qos,
      retain: c.outgoingRetain && remote.retainAvailable && packet.retain,
      dup: false,
    };
    if (c.protocolVersion === 5) {
      const properties = forwardable(packet.properties);
      if (properties !== undefined) out.properties = properties;
    }
    const localQos = packet.qos;
    const packetId = packet.packetId!;
    /** The local side is acknowledged; a QoS 2 message that does not cross at QoS 2 is released here. */
    const ackLocally = (): void => {
      if (localQos === 0) return;
      if (localQos === 2 && qos < 2) this.releasedLocally.add(packetId);
      this.local.ack(packetId, localQos as 1 | 2);
    };
    const limit = Math.min(c.maxPacketSize === 0 ? Number.MAX_SAFE_INTEGER : c.maxPacketSize, remote.maximumPacketSize);
    if (limit < Number.MAX_SAFE_INTEGER && encodePublish({ ...out, packetId: 1 }, c.protocolVersion).bytes.length > limit) {
      this.counters.dropped++;
      this.log('notice', `Bridge ${c.name}: dropped a message on ${packet.topic} larger than the remote's maximum packet size.`);
      // acknowledged as if the remote had it, since it never will; a QoS 2 flow ends here
      if (localQos === 2) this.releasedLocally.add(packetId);
      if (localQos > 0) this.local.ack(packetId, localQos as 1 | 2);
      return;
    }
    if (qos === 0) {
      remote.publish(out, () => {
        this.counters.messagesSent++;
        ackLocally();
      });
      return;
    }
    // under the local session's packet id, resent with DUP as that session resends it
    remote.forward({ ...out, packetId, dup: packet.dup }, () => {
      this.counters.messagesSent++;
      ackLocally();
    });
  }

  /** PUBREL from the local session: on to the remote, whose PUBCOMP completes the local side. */
  private releaseToRemote(packetId: number): void {
    if (this.releasedLocally.delete(packetId)) return this.local.complete(packetId);
    const remote = this.remote;
    // not connected: the local session sends the PUBREL again when the bridge is back
    if (remote === undefined || !remote.connected) return;
    remote.release(packetId, () => this.local.complete(packetId));
  }

  /** A message from the remote: remapped and published locally; the remote is acknowledged once the broker has it. */
  private receiveFromRemote(packet: PublishPacket, taken: () => void): void {
    this.lastActivity = Date.now();
    const local: PublishPacket = { ...packet, topic: localTopicFor(this.config.topics, packet.topic) };
    const properties = forwardable(packet.properties);
    if (properties === undefined) delete local.properties;
    else local.properties = properties;
    this.local.publish(local, () => {
      this.counters.messagesReceived++;
      taken();
    });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private log(type: 'notice' | 'warning' | 'error', message: string): void {
    this.broker.options.logger.log(type, message);
  }
}

/** The properties that travel with a message across the bridge (not aliases or subscription ids of one hop). */
function forwardable(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  const { topicAlias: _alias, subscriptionIdentifiers: _ids, ...rest } = properties;
  return Object.keys(rest).length === 0 ? undefined : rest;
}
