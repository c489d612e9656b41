// Reading the SQLite store back at start-up: its rows as the store port's records. Leftover rows
// (of a session that is gone, or a message no entry refers to) are dropped first.

import type BetterSqlite3 from 'better-sqlite3';
import type { Properties, ProtocolVersion, QoS, RetainHandling } from '../protocol/packets.js';
import type { StoredMessage, StoredOutgoing, StoredSession, StoredState, StoredSubscription } from './port.js';

/** An outgoing entry's state, stored as its index here. */
export const states = ['queued', 'publish', 'pubrel'] as const;

export function readState(db: BetterSqlite3.Database): StoredState {
  // rows whose session is gone (or messages no outgoing entry refers to) are leftovers: drop them
  db.exec(`DELETE FROM subscriptions WHERE client_id NOT IN (SELECT client_id FROM sessions);
    DELETE FROM outgoing WHERE client_id NOT IN (SELECT client_id FROM sessions);
    DELETE FROM incoming_qos2 WHERE client_id NOT IN (SELECT client_id FROM sessions);
    DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM outgoing);`);
  const sessions = new Map<string, StoredSession & { subscriptions: StoredSubscription[]; outgoing: StoredOutgoing[]; incomingQos2: number[] }>();
  for (const row of db.prepare('SELECT client_id, protocol_version, expiry_interval, disconnected_at FROM sessions').all() as SessionRow[]) {
    sessions.set(row.client_id, {
      clientId: row.client_id,
      protocolVersion: row.protocol_version as ProtocolVersion,
      expiryInterval: row.expiry_interval,
      disconnectedAt: row.disconnected_at,
      subscriptions: [],
      outgoing: [],
      incomingQos2: [],
    });
  }
  for (const row of db.prepare('SELECT * FROM subscriptions').all() as SubscriptionRow[]) {
    sessions.get(row.client_id)?.subscriptions.push({
      filter: row.filter,
      qos: row.qos as QoS,
      noLocal: row.no_local === 1,
      retainAsPublished: row.retain_as_published === 1,
      retainHandling: row.retain_handling as RetainHandling,
      subscriptionId: row.subscription_id ?? undefined,
    });
  }
  for (const row of db.prepare('SELECT * FROM outgoing ORDER BY client_id, seq').all() as OutgoingRow[]) {
    sessions.get(row.client_id)?.outgoing.push({
      seq: row.seq,
      messageId: row.message_id,
      qos: row.qos as QoS,
      retain: row.retain === 1,
      subscriptionIds: row.subscription_ids === null ? undefined : (JSON.parse(row.subscription_ids) as number[]),
      packetId: row.packet_id,
      state: states[row.state] ?? 'queued',
    });
  }
  for (const row of db.prepare('SELECT client_id, packet_id FROM incoming_qos2').all() as { client_id: string; packet_id: number }[]) {
    sessions.get(row.client_id)?.incomingQos2.push(row.packet_id);
  }
  const retained = (db.prepare('SELECT * FROM retained').all() as MessageRow[]).map((row) => messageFromRow({ ...row, id: 0, retain: 1 }));
  const messages = (db.prepare('SELECT * FROM messages').all() as MessageRow[]).map(messageFromRow);
  return { sessions: [...sessions.values()], retained, messages };
}

interface SessionRow {
  client_id: string;
  protocol_version: number;
  expiry_interval: number;
  disconnected_at: number;
}
interface SubscriptionRow {
  client_id: string;
  filter: string;
  qos: number;
  no_local: number;
  retain_as_published: number;
  retain_handling: number;
  subscription_id: number | null;
}
interface OutgoingRow {
  client_id: string;
  seq: number;
  message_id: number;
  qos: number;
  retain: number;
  subscription_ids: string | null;
  packet_id: number;
  state: number;
}
interface MessageRow {
  id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  properties: string | null;
  expires_at: number;
  received_at: number;
  origin: string | null;
}

function messageFromRow(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    topic: row.topic,
    payload: row.payload,
    qos: row.qos as QoS,
    retain: row.retain === 1,
    properties: row.properties === null ? undefined : parseProperties(row.properties),
    expiresAt: row.expires_at,
    receivedAt: row.received_at,
    origin: row.origin ?? undefined,
  };
}

function parseProperties(text: string): Properties {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return Buffer.from((value as { data: number[] }).data);
    }
    return value;
  }) as Properties;
}
