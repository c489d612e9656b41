// One immutable application message, shared by every subscriber it is delivered to.
// It caches its encoded PUBLISH per (protocol family, QoS, retain) shape, so a message going to
// many subscribers is encoded once; each subscriber only patches its packet id (see ClientLink).

import type { Properties, ProtocolVersion, QoS } from '../protocol/packets.js';
import { encodePublishFields, type EncodedPublish } from '../protocol/writer.js';

let nextMessageId = 1;

/**
 * Which message this is across a cluster: the node that first routed it and that node's routing
 * sequence number, the same on every node it reaches (cluster/frame.ts sends it).
 */
export interface ClusterMessageId {
  readonly origin: string;
  readonly seq: number;
}

/** A cluster message id as one string, for sets and maps. */
export const clusterIdKey = (id: ClusterMessageId): string => `${id.origin}\u0000${id.seq}`;

export class Message {
  /** Unique within this broker process; the store's key for the message. */
  readonly id: number;
  /** Epoch ms when the broker received it, for the remaining message expiry [MQTT-3.3.2-6]. */
  readonly receivedAt: number;
  /** Persistent sessions holding this message in the durable store (see broker/persistence.ts). */
  storeRefs = 0;
  /**
   * Set on a message another node forwarded (sessions in Redis), and kept with the session entries
   * made from it, so a dead node's inbox replayed into its sessions does not add it twice.
   */
  clusterId: ClusterMessageId | undefined = undefined;
  /**
   * Encoded PUBLISH per shape, shape = family * 6 + qos * 2 + retain (family 0 = v3/v4, 1 = v5): the
   * first shape asked for in a field of its own (most messages need one), the others in an array
   * made only when a second shape is asked for.
   */
  private firstShape = -1;
  private firstEncoding: EncodedPublish | undefined;
  private otherEncodings: (EncodedPublish | undefined)[] | undefined;
  /** v5 encodings with a topic alias (topicAliasOut only), by ((alias * 2 + withTopic) * 3 + qos) * 2 + retain. */
  private aliasedEncodings: Map<number, EncodedPublish> | undefined;

  constructor(
    readonly topic: string,
    readonly payload: Buffer,
    readonly qos: QoS,
    readonly retain: boolean,
    /** Properties forwarded to subscribers (no topic alias, no subscription ids). */
    readonly properties: Properties | undefined,
    /** Epoch ms after which the message must not be delivered; 0 = never [MQTT-3.3.2-5]. */
    readonly expiresAt: number,
    /** Client id of the publisher, for No Local [MQTT-3.8.3-3]; undefined for broker-made messages. */
    readonly origin: string | undefined,
    receivedAt = Date.now(),
    id = nextMessageId++,
  ) {
    this.id = id;
    this.receivedAt = receivedAt;
    if (id >= nextMessageId) nextMessageId = id + 1;
  }

  isExpired(now: number): boolean {
    return this.expiresAt !== 0 && now >= this.expiresAt;
  }

  /**
   * The PUBLISH as sent to a subscriber. Cached when nothing per-subscriber or time-dependent
   * changes the bytes: no subscription identifiers, and the expiry interval not yet decreased.
   */
  encode(version: ProtocolVersion, qos: QoS, retain: boolean, subscriptionIds: readonly number[] | undefined, now: number): EncodedPublish {
    const v5 = version === 5;
    const expiring = v5 && this.expiresAt !== 0 && now - this.receivedAt >= 1000;
    if ((v5 && subscriptionIds !== undefined) || expiring) {
      return encodePublishFields(this.topic, this.payload, qos, retain, false, 0, this.propertiesFor(subscriptionIds, now), version);
    }
    const shape = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
    if (shape === this.firstShape) return this.firstEncoding!;
    let encoded = this.otherEncodings?.[shape];
    if (encoded === undefined) {
      encoded = encodePublishFields(this.topic, this.payload, qos, retain, false, 0, v5 ? this.properties : undefined, version);
      if (this.firstShape === -1) {
        this.firstShape = shape;
        this.firstEncoding = encoded;
      } else {
        (this.otherEncodings ??= [])[shape] = encoded;
      }
    }
    return encoded;
  }

  /**
   * The v5 PUBLISH with a Topic Alias: with the topic the first time the client sees the alias,
   * with an empty topic afterwards (MQTT 5.0 §3.3.2.3.4). Shared between subscribers that use the
   * same alias the same way, under the same conditions as encode().
   */
  encodeAliased(qos: QoS, retain: boolean, subscriptionIds: readonly number[] | undefined, now: number, alias: number, withTopic: boolean): EncodedPublish {
    const cacheable = subscriptionIds === undefined && !(this.expiresAt !== 0 && now - this.receivedAt >= 1000);
    const key = ((alias * 2 + (withTopic ? 1 : 0)) * 3 + qos) * 2 + (retain ? 1 : 0);
    let encoded = cacheable ? this.aliasedEncodings?.get(key) : undefined;
    if (encoded !== undefined) return encoded;
    const properties: Properties = { ...(cacheable ? this.properties : this.propertiesFor(subscriptionIds, now)), topicAlias: alias };
    encoded = encodePublishFields(withTopic ? this.topic : '', this.payload, qos, retain, false, 0, properties, 5);
    if (cacheable) (this.aliasedEncodings ??= new Map()).set(key, encoded);
    return encoded;
  }

  private propertiesFor(subscriptionIds: readonly number[] | undefined, now: number): Properties | undefined {
    const properties: Properties = { ...this.properties };
    if (this.expiresAt !== 0) {
      // [MQTT-3.3.2-6] forward the interval minus the time the message has waited
      properties.messageExpiryInterval = Math.max(0, Math.ceil((this.expiresAt - now) / 1000));
    }
    if (subscriptionIds !== undefined) properties.subscriptionIdentifiers = [...subscriptionIds];
    return properties;
  }
}
