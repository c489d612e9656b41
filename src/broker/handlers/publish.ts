// Inbound PUBLISH and the QoS 1/2 acknowledgement packets in both directions.
// Checks run in order (topic alias, QoS, retain, payload format, QoS 2 duplicate, limits, ACL),
// then the message is routed once and the publisher acknowledged.

import { isUtf8 } from 'node:buffer';
import type { AckPacket, Properties, PublishPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Channel } from '../channel.js';
import { Message } from '../message.js';

export function handlePublish(channel: Channel, packet: PublishPacket): void | Promise<void> {
  const options = channel.broker.options;
  const session = channel.session!;
  let topic = packet.topic;

  const alias = packet.properties?.topicAlias;
  if (alias !== undefined) {
    if (alias === 0 || alias > options.maxTopicAlias) {
      return channel.fail(ReasonCode.TopicAliasInvalid, `topic alias ${alias} outside 1..${options.maxTopicAlias} [MQTT-3.3.2-9]`);
    }
    if (topic === '') {
      const known = channel.topicAliases?.get(alias);
      if (known === undefined) return channel.fail(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
      topic = known;
    } else {
      (channel.topicAliases ??= new Map()).set(alias, topic);
    }
  }
  if (packet.qos > options.maxQos) {
    return channel.fail(ReasonCode.QoSNotSupported, `QoS ${packet.qos} above maximum QoS ${options.maxQos}`);
  }
  if (packet.retain && !options.retainAvailable) {
    return channel.fail(ReasonCode.RetainNotSupported, 'retain not available');
  }
  if (packet.qos === 2 && session.incomingQos2.has(packet.packetId!)) {
    // [MQTT-4.3.3-10] a resent QoS 2 PUBLISH is acknowledged again but not delivered twice
    // (once the first copy is durable, should it still be committing)
    channel.whenDurable(() => channel.sendAck({ type: 'pubrec', packetId: packet.packetId! }));
    return;
  }
  if (packet.qos === 2 && channel.version === 5 && session.incomingQos2.size >= options.receiveMaximum) {
    return channel.fail(ReasonCode.ReceiveMaximumExceeded, 'more unacknowledged QoS 2 messages than Receive Maximum');
  }
  if (packet.properties?.payloadFormatIndicator === 1 && !isUtf8(packet.payload)) {
    return acknowledge(channel, packet, ReasonCode.PayloadFormatInvalid, 'payload is not valid UTF-8'); // MQTT 5.0 §3.3.2.3.2
  }
  if (options.maxTopicLevels > 0 && topicLevels(topic) > options.maxTopicLevels) {
    return acknowledge(channel, packet, ReasonCode.TopicNameInvalid, `topic has more than ${options.maxTopicLevels} levels`); // accepted by the spec, refused by this server
  }
  if (options.messageSizeLimit > 0 && packet.payload.length > options.messageSizeLimit) {
    // As Mosquitto: the QoS flow completes, the message is not forwarded.
    options.logger.log('notice', `Dropped too large PUBLISH from ${channel.clientId} (${packet.payload.length} bytes).`);
    return acknowledge(channel, packet, ReasonCode.ImplementationSpecificError, `payload larger than message_size_limit (${options.messageSizeLimit} bytes)`);
  }
  if (channel.link.privileged === true) return routePublish(channel, packet, topic, true);
  if (topic.startsWith('$')) {
    // As Mosquitto: clients never publish into $SYS, except a bridge's state, and "$share/..." is not a topic name.
    const sys = (topic.startsWith('$SYS/') || topic === '$SYS') && !isBridgeStateTopic(topic);
    if (sys || topic.startsWith('$share/')) return acknowledge(channel, packet, ReasonCode.NotAuthorized, `clients may not publish to ${topic.startsWith('$share/') ? '$share' : '$SYS'}`);
  }

  const allowed = options.authorizer.canPublish(channel.identity, topic, packet.qos, packet.retain);
  if (allowed instanceof Promise) return allowed.then((ok) => routePublish(channel, packet, topic, ok));
  return routePublish(channel, packet, topic, allowed);
}

function routePublish(channel: Channel, packet: PublishPacket, topic: string, allowed: boolean): void | Promise<void> {
  if (channel.state === 'closed') return;
  const broker = channel.broker;
  if (!allowed) {
    // As Mosquitto: a denied PUBLISH is acknowledged (0x87 in v5) and dropped.
    broker.options.logger.log('debug', `Denied PUBLISH from ${channel.clientId} (d${packet.dup ? 1 : 0}, q${packet.qos}, r${packet.retain ? 1 : 0}, m${packet.packetId ?? 0}, '${topic}', ... (${packet.payload.length} bytes))`);
    return acknowledge(channel, packet, ReasonCode.NotAuthorized, 'not authorised to publish to this topic');
  }
  if (topic.startsWith('$CONTROL/')) {
    const handler = broker.options.controlHandlers.find((candidate) => candidate.topic === topic);
    if (handler !== undefined) {
      // As Mosquitto: a control message is acknowledged and handed over, never routed.
      acknowledge(channel, packet, ReasonCode.Success);
      handler.handle({ client: channel.identity, payload: packet.payload, properties: packet.properties, broker });
      return;
    }
  }
  const now = Date.now();
  const expiry = packet.properties?.messageExpiryInterval;
  // A retained payload outlives the read buffer it arrived in: copy it so it pins nothing else.
  const payload = packet.retain ? Buffer.from(packet.payload) : packet.payload;
  const message = new Message(topic, payload, packet.qos, packet.retain, forwardedProperties(packet.properties), expiry === undefined ? 0 : now + expiry * 1000, channel.clientId, now);
  broker.stats.publishReceived++;
  broker.stats.publishBytesReceived += packet.payload.length;
  const receivers = broker.route(message, now);
  if (packet.qos === 0) return;
  const reason = receivers === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
  // The packet id is kept in the same commit as the deliveries, so a resend after a crash is
  // recognised instead of delivered again [MQTT-4.3.3-10].
  if (packet.qos === 2) channel.session!.addIncomingQos2(packet.packetId!);
  acknowledge(channel, packet, reason); // only once durable
}

/**
 * PUBACK for QoS 1, PUBREC for QoS 2; nothing for QoS 0. Sent once what was recorded is durable,
 * in the order of the PUBLISH packets, refusals included [MQTT-4.6.0-2].
 */
function acknowledge(channel: Channel, packet: PublishPacket, reasonCode: number, problem?: string): void {
  if (packet.qos === 0 || channel.state === 'closed') return;
  const ack: AckPacket<'puback' | 'pubrec'> = { type: packet.qos === 1 ? 'puback' : 'pubrec', packetId: packet.packetId! };
  if (reasonCode !== ReasonCode.Success) ack.reasonCode = reasonCode;
  if (problem !== undefined) {
    const properties = channel.problem(problem);
    if (properties !== undefined) ack.properties = properties;
  }
  if (channel.broker.persistence === undefined) channel.sendAck(ack);
  else channel.whenDurable(() => channel.sendAck(ack));
}

/** $SYS/broker/connection/<client id>/state: the notification topic a remote bridge may publish. */
export function isBridgeStateTopic(topic: string): boolean {
  return /^\$SYS\/broker\/connection\/[^/]+\/state$/.test(topic);
}

function topicLevels(topic: string): number {
  let levels = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f) levels++;
  return levels;
}

/** What subscribers get: everything the publisher sent but its topic alias (MQTT 5.0 §3.3.2.3.4). */
function forwardedProperties(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  if (properties.topicAlias === undefined) return properties;
  const { topicAlias: _alias, ...rest } = properties;
  return Object.keys(rest).length === 0 ? undefined : rest;
}

export function handlePuback(channel: Channel, packet: AckPacket<'puback'>): void {
  channel.session!.acknowledge(packet.packetId, Date.now());
}

export function handlePubrec(channel: Channel, packet: AckPacket<'pubrec'>): void {
  const failed = (packet.reasonCode ?? 0) >= 0x80;
  const known = channel.session!.received(packet.packetId, failed, Date.now());
  if (failed) return;
  const pubrel: AckPacket<'pubrel'> = { type: 'pubrel', packetId: packet.packetId };
  if (!known && channel.version === 5) {
    pubrel.reasonCode = ReasonCode.PacketIdentifierNotFound;
    const properties = channel.problem(`no QoS 2 message in flight with packet id ${packet.packetId}`);
    if (properties !== undefined) pubrel.properties = properties;
  }
  // PUBREL only once the pubrel state is durable: after a crash the message must not be sent again
  // as a new PUBLISH to a client that has already released it
  channel.whenDurable(() => channel.sendAck(pubrel)); // [MQTT-4.3.3-4]
}

export function handlePubrel(channel: Channel, packet: AckPacket<'pubrel'>): void {
  const known = channel.session!.releaseIncomingQos2(packet.packetId);
  const pubcomp: AckPacket<'pubcomp'> = { type: 'pubcomp', packetId: packet.packetId };
  if (!known && channel.version === 5) {
    pubcomp.reasonCode = ReasonCode.PacketIdentifierNotFound;
    const properties = channel.problem(`no QoS 2 message received with packet id ${packet.packetId}`);
    if (properties !== undefined) pubcomp.properties = properties;
  }
  channel.sendAck(pubcomp); // [MQTT-4.3.3-11]
}

export function handlePubcomp(channel: Channel, packet: AckPacket<'pubcomp'>): void {
  channel.session!.completed(packet.packetId, Date.now());
}
