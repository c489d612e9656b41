// Reading the SQLite store back at start-up: its rows as the store port's records. Leftover rows
// (of a session that is gone) are dropped; messages no entry refers to are left out, and their
// rows of the outgoing log are freed as the log moves on.

import type BetterSqlite3 from 'better-sqlite3';
import type { ProtocolVersion, QoS, RetainHandling } from '../protocol/packets.js';
import type { StoredMessage, StoredOutgoing, StoredSession, StoredState, StoredSubscription } from './port.js';
import { parseProperties, replay, type Replayed } from './outgoing-log-rows.js';

/** The stored state, and the outgoing log replayed, for the store to go on writing it. */
export interface ReadState {
  readonly state: StoredState;
  readonly log: Replayed;
}

export function readState(db: BetterSqlite3.Database): ReadState {
  // rows whose session is gone are leftovers: drop them
  db.exec(`DELETE FROM subscriptions WHERE client_id NOT IN (SELECT client_id FROM sessions);
    DELETE FROM incoming_qos2 WHERE client_id NOT IN (SELECT client_id FROM sessions);`);
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
  // a session gone from the table while the log has entries of it is dropped by the store (load)
  const log = readOutgoingLog(db);
  for (const [clientId, entries] of log.sessions) {
    const session = sessions.get(clientId);
    if (session === undefined) continue;
    for (const seq of [...entries.keys()].sort((a, b) => a - b)) session.outgoing.push(entries.get(seq)!);
  }
  for (const row of db.prepare('SELECT client_id, packet_id FROM incoming_qos2').all() as { client_id: string; packet_id: number }[]) {
    sessions.get(row.client_id)?.incomingQos2.push(row.packet_id);
  }
  const retained = (db.prepare('SELECT * FROM retained').all() as MessageRow[]).map((row) => messageFromRow({ ...row, id: 0, retain: 1 }));
  const messages = new Map<number, StoredMessage>();
  for (const session of sessions.values()) {
    for (const entry of session.outgoing) {
      const message = log.messages.get(entry.messageId);
      if (message !== undefined) messages.set(message.id, message);
    }
  }
  return { state: { sessions: [...sessions.values()], retained, messages: [...messages.values()] }, log };
}

/** The outgoing log's rows replayed in order: every client id's entries. */
export function readOutgoingLog(db: BetterSqlite3.Database): Replayed {
  return replay(db.prepare('SELECT row, data FROM outgoing_log ORDER BY row').iterate() as IterableIterator<{ row: number; data: Buffer }>);
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
/** A row of the retained table (and of version 1's messages table). */
export interface MessageRow {
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

export function messageFromRow(row: MessageRow): StoredMessage {
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
