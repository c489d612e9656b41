// Control topics: `$CONTROL/...` topics the broker serves itself (Mosquitto's plugin control API,
// e.g. `$CONTROL/dynamic-security/v1`). A PUBLISH the client may send there is handed to the
// handler and acknowledged, never routed to subscribers.

import type { ClientIdentity } from '../auth/port.js';
import type { Properties, QoS } from '../protocol/packets.js';

/** What a handler may ask of the broker. */
export interface ControlBroker {
  publish(topic: string, payload: Buffer | string, options?: { qos?: QoS; retain?: boolean; properties?: Properties }): number;
  /** Disconnects the connected clients that match (v5: DISCONNECT with reasonCode), without their wills. */
  disconnectClients(match: (client: ClientIdentity) => boolean, reasonCode: number): number;
}

export interface ControlRequest {
  readonly client: ClientIdentity;
  readonly payload: Buffer;
  readonly properties: Properties | undefined;
  readonly broker: ControlBroker;
}

export interface ControlHandler {
  /** The exact topic served, e.g. "$CONTROL/dynamic-security/v1". */
  readonly topic: string;
  handle(request: ControlRequest): void;
}
