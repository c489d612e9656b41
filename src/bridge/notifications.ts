// The bridge's state as Mosquitto publishes it: a retained "1" on the notification topic when the
// remote accepts the connection (locally, and on the remote unless notifications_local_only), a
// retained "0" will on the remote for when the connection dies, and "0" locally at start and on loss.

import type { Broker } from '../broker/broker.js';
import type { Will } from '../protocol/packets.js';
import type { BridgeConfig } from './config.js';

export const CONNECTED = '1';
export const DISCONNECTED = '0';

/** The will the remote publishes if the bridge's connection dies; undefined when not wanted. */
export function remoteWill(config: BridgeConfig): Will | undefined {
  if (!config.notifications || config.notificationsLocalOnly) return undefined;
  return { topic: config.notificationTopic, payload: Buffer.from(DISCONNECTED), qos: 1, retain: true };
}

/** Publishes the state on the local broker (retained, QoS 1), when notifications are on. */
export function notifyLocally(broker: Broker, config: BridgeConfig, state: typeof CONNECTED | typeof DISCONNECTED): void {
  if (!config.notifications || broker.isClosing) return;
  broker.publish(config.notificationTopic, state, { qos: 1, retain: true });
}
