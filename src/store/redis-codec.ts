// How the Redis store writes records: subscriptions and outgoing entries as short JSON, messages as
// a 4-byte header length, a JSON header and the payload bytes as they are (no base64).

import type { Properties, QoS, RetainHandling } from '../protocol/packets.js';
import type { StoredMessage, StoredOutgoing, StoredSubscription } from './port.js';

const states = ['queued', 'publish', 'pubrel'] as const;

interface MessageHeader {
  id: number;
  t: string;
  q: number;
  r: 0 | 1;
  p?: Properties;
  x: number;
  at: number;
  o?: string;
  /** The cluster id (origin node, routing sequence) of a message another node forwarded; absent in values of earlier versions. */
  c?: [string, number];
}

export function encodeMessage(m: StoredMessage): Buffer {
  const header: MessageHeader = { id: m.id, t: m.topic, q: m.qos, r: m.retain ? 1 : 0, x: m.expiresAt, at: m.receivedAt };
  if (m.properties !== undefined) header.p = m.properties;
  if (m.origin !== undefined) header.o = m.origin;
  if (m.clusterId !== undefined) header.c = [m.clusterId.origin, m.clusterId.seq];
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.length + m.payload.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  m.payload.copy(out, 4 + json.length);
  return out;
}

/** The message, or undefined when the bytes are not one (a damaged or foreign value). */
export function decodeMessage(data: Buffer): StoredMessage | undefined {
  if (data.length < 4) return undefined;
  const length = data.readUInt32BE(0);
  if (4 + length > data.length) return undefined;
  let h: MessageHeader;
  try {
    h = JSON.parse(data.toString('utf8', 4, 4 + length), reviveBuffers) as MessageHeader;
  } catch {
    return undefined;
  }
  if (typeof h.t !== 'string' || typeof h.id !== 'number') return undefined;
  const clusterId = Array.isArray(h.c) && typeof h.c[0] === 'string' && typeof h.c[1] === 'number' ? { origin: h.c[0], seq: h.c[1] } : undefined;
  return {
    ...(clusterId === undefined ? {} : { clusterId }),
    id: h.id,
    topic: h.t,
    payload: Buffer.from(data.subarray(4 + length)), // a copy: the reply buffer is not pinned
    qos: (h.q ?? 0) as QoS,
    retain: h.r === 1,
    properties: h.p,
    expiresAt: h.x ?? 0,
    receivedAt: h.at ?? Date.now(),
    origin: h.o,
  };
}

export function encodeSubscription(s: StoredSubscription): string {
  return JSON.stringify({ q: s.qos, nl: s.noLocal ? 1 : 0, rap: s.retainAsPublished ? 1 : 0, rh: s.retainHandling, id: s.subscriptionId });
}

export function decodeSubscription(filter: string, text: string): StoredSubscription | undefined {
  try {
    const s = JSON.parse(text) as { q: number; nl: number; rap: number; rh: number; id?: number };
    return { filter, qos: s.q as QoS, noLocal: s.nl === 1, retainAsPublished: s.rap === 1, retainHandling: s.rh as RetainHandling, subscriptionId: s.id };
  } catch {
    return undefined;
  }
}

export function encodeOutgoing(e: StoredOutgoing): string {
  return JSON.stringify({ m: e.messageId, q: e.qos, r: e.retain ? 1 : 0, s: e.subscriptionIds, p: e.packetId, st: states.indexOf(e.state) });
}

export function decodeOutgoing(seq: number, text: string): StoredOutgoing | undefined {
  try {
    const e = JSON.parse(text) as { m: number; q: number; r: number; s?: number[]; p: number; st: number };
    return { seq, messageId: e.m, qos: e.q as QoS, retain: e.r === 1, subscriptionIds: e.s, packetId: e.p, state: states[e.st] ?? 'queued' };
  } catch {
    return undefined;
  }
}

/** JSON.stringify writes a Buffer (correlation data) as {"type":"Buffer","data":[...]}: back to a Buffer. */
function reviveBuffers(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data);
  }
  return value;
}
