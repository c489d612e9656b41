// Packets and steps shared by the wire-level MQTT 5.0 tests (test/broker/v5-*-musts.test.ts): a
// CONNECT with defaults, subscription and PUBLISH shorthands, and bytes with ill-formed UTF-8.

import assert from 'node:assert/strict';
import { RawClient } from './raw-client.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ConnackPacket, ConnectPacket, Packet, Properties, PublishPacket, QoS, SubscriptionRequest } from '../../src/protocol/packets.js';

let counter = 0;
/** A name no other test in this process uses. */
export const unique = (name: string): string => `${name}-${++counter}`;

export function connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
  return { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, bridge: false, clean: true, keepalive: 0, clientId: unique('c'), ...fields };
}

/** Opens a v5 connection and returns the client with the CONNACK it got (whatever its reason code). */
export async function openV5(port: number, fields: Partial<ConnectPacket> = {}): Promise<{ client: RawClient; connack: ConnackPacket }> {
  const client = await RawClient.open(port, 5);
  client.send(connectPacket(fields));
  return { client, connack: await client.expect('connack') };
}

/** A v5 connection whose CONNACK accepted it. */
export const connectedV5 = (port: number, fields: Partial<ConnectPacket> = {}): Promise<RawClient> => RawClient.connected(port, { protocolVersion: 5, ...fields });

export function sub(filter: string, options: Partial<SubscriptionRequest> = {}): SubscriptionRequest {
  return { filter, qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0, ...options };
}

export function pub(topic: string, payload: string, qos: QoS = 0, options: { retain?: boolean; packetId?: number; dup?: boolean; properties?: Properties } = {}): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: options.retain ?? false, dup: options.dup ?? false };
  if (qos > 0) packet.packetId = options.packetId ?? 1;
  if (options.properties) packet.properties = options.properties;
  return packet;
}

/** SUBSCRIBE and the reason codes of its SUBACK. */
export async function subscribe(client: RawClient, subscriptions: SubscriptionRequest[], packetId = 1): Promise<number[]> {
  client.send({ type: 'subscribe', packetId, subscriptions });
  return (await client.expect('suback')).reasonCodes;
}

/** The v5 encoding of a packet with `marker` (ASCII) replaced by as many 0xFF bytes: ill-formed UTF-8. */
export function withIllFormedUtf8(packet: Packet, marker: string): Buffer {
  const bytes = encodePacket(packet, 5);
  const at = bytes.indexOf(marker);
  assert.ok(at >= 0);
  bytes.fill(0xff, at, at + marker.length);
  return bytes;
}
