// The `-d` packet trace, worded as libmosquitto logs it ("Client <id> sending CONNECT",
// "Client <id> received PUBACK (Mid: 1, RC:0)", …), so traces diff cleanly against mosquitto_pub's.

import type { Packet } from 'mqtt-packet';

export class PacketTrace {
  /** The id shown in each line: "(null)" until the client has one, then the broker-assigned one in v5. */
  clientName: string;

  constructor(clientId: string, private readonly protocolVersion: number, private readonly write: (line: string) => void) {
    this.clientName = clientId === '' ? '(null)' : clientId;
  }

  #line(text: string): void {
    this.write(`Client ${this.clientName} ${text}\n`);
  }

  /** `mid` is the message id libmosquitto would show; QoS 0 publishes get one too. */
  sent(packet: Packet, mid?: number): void {
    switch (packet.cmd) {
      case 'publish':
        this.#line(`sending PUBLISH (d${packet.dup ? 1 : 0}, q${packet.qos}, r${packet.retain ? 1 : 0}, m${mid ?? packet.messageId ?? 0}, '${packet.topic}', ... (${Buffer.byteLength(packet.payload)} bytes))`);
        break;
      case 'puback':
        this.#line(`sending PUBACK (m${packet.messageId}, rc${packet.reasonCode ?? 0})`);
        break;
      case 'pubrec':
        this.#line(`sending PUBREC (m${packet.messageId}, rc${packet.reasonCode ?? 0})`);
        break;
      case 'pubrel':
        this.#line(`sending PUBREL (m${packet.messageId})`);
        break;
      case 'pubcomp':
        this.#line(`sending PUBCOMP (m${packet.messageId})`);
        break;
      case 'subscribe':
        for (const sub of packet.subscriptions) {
          // Subscription options exist only in v5 (MQTT 5.0 §3.8.3.1); mosquitto strips them for v3.
          const options = this.protocolVersion === 5 ? (sub.nl ? 0x04 : 0) | (sub.rap ? 0x08 : 0) | ((sub.rh ?? 0) << 4) : 0;
          this.#line(`sending SUBSCRIBE (Mid: ${packet.messageId}, Topic: ${sub.topic}, QoS: ${sub.qos}, Options: 0x${options.toString(16).padStart(2, '0')})`);
        }
        break;
      case 'unsubscribe':
        for (const topic of packet.unsubscriptions) this.#line(`sending UNSUBSCRIBE (Mid: ${packet.messageId}, Topic: ${topic})`);
        break;
      default:
        this.#line(`sending ${packet.cmd.toUpperCase()}`);
    }
  }

  received(packet: Packet): void {
    switch (packet.cmd) {
      case 'connack':
        this.#line(`received CONNACK (${(this.protocolVersion === 5 ? packet.reasonCode : packet.returnCode) ?? 0})`);
        break;
      case 'publish':
        this.#line(`received PUBLISH (d${packet.dup ? 1 : 0}, q${packet.qos}, r${packet.retain ? 1 : 0}, m${packet.messageId ?? 0}, '${packet.topic}', ... (${Buffer.byteLength(packet.payload)} bytes))`);
        break;
      case 'puback':
        this.#line(`received PUBACK (Mid: ${packet.messageId}, RC:${packet.reasonCode ?? 0})`);
        break;
      case 'pubrec':
        this.#line(`received PUBREC (Mid: ${packet.messageId})`);
        break;
      case 'pubrel':
        this.#line(`received PUBREL (Mid: ${packet.messageId})`);
        break;
      case 'pubcomp':
        this.#line(`received PUBCOMP (Mid: ${packet.messageId}, RC:${packet.reasonCode ?? 0})`);
        break;
      case 'disconnect':
        this.write(`Received DISCONNECT (${packet.reasonCode ?? 0})\n`);
        break;
      default:
        this.#line(`received ${packet.cmd.toUpperCase()}`);
    }
  }
}
