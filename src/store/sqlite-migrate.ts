// Converts a persistence file of an earlier format version to the current one, in one transaction,
// when it is opened: an upgrade keeps its sessions and their messages.
//
// Version 1 → 2: the `outgoing` table (one row per entry) and the `messages` table (one row per
// message) become `outgoing_log` (outgoing-log.ts): every session's entries and the messages they
// refer to written in its first row.

import type BetterSqlite3 from 'better-sqlite3';
import type { QoS } from '../protocol/packets.js';
import type { StoredMessage, StoredOutgoing } from './port.js';
import { snapshotRow, states } from './outgoing-log-rows.js';
import { messageFromRow, type MessageRow } from './sqlite-read.js';

interface OutgoingRowV1 {
  client_id: string;
  seq: number;
  message_id: number;
  qos: number;
  retain: number;
  subscription_ids: string | null;
  packet_id: number;
  state: number;
}

/** Brings a file of `version` up to the current version; returns false when it cannot. */
export function migrate(db: BetterSqlite3.Database, version: number): boolean {
  if (version !== 1) return false;
  db.transaction(() => {
    db.exec('CREATE TABLE outgoing_log (row INTEGER PRIMARY KEY, data BLOB NOT NULL)');
    const sessions = new Map<string, StoredOutgoing[]>();
    for (const row of db.prepare('SELECT * FROM outgoing ORDER BY client_id, seq').iterate() as IterableIterator<OutgoingRowV1>) {
      let entries = sessions.get(row.client_id);
      if (entries === undefined) sessions.set(row.client_id, (entries = []));
      entries.push(entryFromRow(row));
    }
    const referenced = new Set([...sessions.values()].flatMap((entries) => entries.map((entry) => entry.messageId)));
    const messages: StoredMessage[] = [];
    for (const row of db.prepare('SELECT * FROM messages').iterate() as IterableIterator<MessageRow>) if (referenced.has(row.id)) messages.push(messageFromRow(row));
    if (sessions.size > 0) db.prepare('INSERT INTO outgoing_log (row, data) VALUES (1, ?)').run(snapshotRow(sessions, messages));
    db.exec("DROP TABLE outgoing; DROP TABLE messages; UPDATE meta SET value = '2' WHERE key = 'version'");
  })();
  return true;
}

function entryFromRow(row: OutgoingRowV1): StoredOutgoing {
  return {
    seq: row.seq,
    messageId: row.message_id,
    qos: row.qos as QoS,
    retain: row.retain === 1,
    subscriptionIds: row.subscription_ids === null ? undefined : (JSON.parse(row.subscription_ids) as number[]),
    packetId: row.packet_id,
    state: states[row.state] ?? 'queued',
  };
}
