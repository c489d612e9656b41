// DISCONNECT from the client, and the will that is sent when a client goes away without one.

import type { DisconnectPacket, Will } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Channel } from '../channel.js';
import { Message } from '../message.js';
import { NEVER_EXPIRES } from '../session.js';

export function handleDisconnect(channel: Channel, packet: DisconnectPacket): void {
  const session = channel.session!;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined) {
    if (channel.connectExpiryWasZero && expiry !== 0) {
      // MQTT 5.0 §3.14.2.2.2: a session that was to end with the connection cannot be extended now
      return channel.fail(ReasonCode.ProtocolError, 'Session Expiry Interval raised from 0 on DISCONNECT');
    }
    session.expiryInterval = expiry;
  }
  // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; 0x04 asks for it to be sent (MQTT 5.0 §3.14.2.1)
  if (packet.reasonCode !== ReasonCode.DisconnectWithWillMessage) channel.will = undefined;
  channel.broker.options.logger.log('notice', `Client ${channel.clientId} disconnected.`);
  channel.clientDisconnected();
}

/**
 * Sends a will, after min(Will Delay Interval, Session Expiry Interval) [MQTT-3.1.3-9]; write access
 * to the will topic is checked when it is sent, as Mosquitto does.
 */
export function publishWill(channel: Channel, will: Will, sessionExpiry: number): void {
  const broker = channel.broker;
  const identity = channel.identity;
  const willDelay = will.properties?.willDelayInterval ?? 0;
  const delay = sessionExpiry === NEVER_EXPIRES ? willDelay : Math.min(willDelay, sessionExpiry);
  broker.scheduleWill(channel.clientId, will, delay, () => {
    broker.cluster?.willSettled(identity.clientId);
    const send = (allowed: boolean): void => {
      if (!allowed) return;
      const now = Date.now();
      const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
      const expiry = properties.messageExpiryInterval;
      const message = new Message(will.topic, will.payload, will.qos, will.retain, Object.keys(properties).length ? properties : undefined, expiry === undefined ? 0 : now + expiry * 1000, identity.clientId, now);
      broker.route(message, now);
    };
    const allowed = broker.options.authorizer.canPublish(identity, will.topic, will.qos, will.retain);
    if (allowed instanceof Promise) void allowed.then(send, () => undefined);
    else send(allowed);
  });
}
