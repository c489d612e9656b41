// Acknowledging QoS 1 messages only after their rows are committed, without stopping delivery.
//
// MQTT.js's documented hook, handleMessage(packet, callback), sends the PUBACK when the callback
// runs, but it hands over the next message only then as well: holding the callback until a commit
// would make every batch one message long. So the hook answers at once with an error, which makes
// MQTT.js move on *without* sending a PUBACK (handlers/publish.js, MQTT.js 5), and the PUBACK is sent
// here once the batch is durable. Packet ids belong to one connection: an acknowledgement whose
// connection has since closed is dropped, and the broker redelivers that message on the next one
// (the database ignores the duplicate).
// [MQTT-4.3.2-2] a PUBACK says the receiver has accepted ownership: here, the row is committed.
// [MQTT-4.6.0-2] PUBACKs go in arrival order: batches commit one after another, in order.

import type { IPublishPacket, MqttClient } from 'mqtt';

/** Passed to handleMessage's callback: "not acknowledged yet", not a failure. */
class AckDeferred extends Error {
  constructor() {
    super('acknowledgement deferred until the batch is committed');
  }
}
const deferred = new AckDeferred();

export interface PendingAck {
  readonly messageId: number;
  readonly connection: number;
}

interface PacketSender {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, callback?: () => void): void;
}

export class DeferredAcks {
  /** Counts connections; a pending ack is only valid on the one it arrived on. */
  #connection = 0;

  constructor(
    private readonly client: MqttClient,
    onMessage: (packet: IPublishPacket, ack: PendingAck | undefined) => void,
  ) {
    client.on('connect', () => this.#connection++);
    client.on('close', () => this.#connection++);
    client.handleMessage = (packet, callback) => {
      if (packet.qos === 1 && packet.messageId !== undefined) {
        onMessage(packet, { messageId: packet.messageId, connection: this.#connection });
        callback(deferred);
      } else {
        // QoS 0 needs no acknowledgement (and QoS 2 is never granted by our subscription).
        onMessage(packet, undefined);
        callback();
      }
    };
  }

  /** Sends the PUBACKs still valid on the current connection; returns how many were sent. */
  acknowledge(acks: readonly PendingAck[]): number {
    if (!this.client.connected) return 0;
    const sender = this.client as unknown as PacketSender;
    let sent = 0;
    for (const ack of acks) {
      if (ack.connection !== this.#connection) continue;
      sender._sendPacket({ cmd: 'puback', messageId: ack.messageId });
      sent++;
    }
    return sent;
  }
}
