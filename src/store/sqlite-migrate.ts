// Converts a persistence file of an earlier format version to the current one, in one transaction,
// when it is opened: an upgrade keeps its sessions and their messages.
//
// Version 1 → 2: the `outgoing` table (one row per entry) and the `messages` table (one row per
// message) become `outgoing_log` (outgoing-log.ts): every session's entries and the messages they
// refer to written in its first row, by the log itself as a commit would write them.

import type BetterSqlite3 from 'better-sqlite3';
import type { QoS } from '../protocol/packets.js';
import type { StoredOutgoing } from './port.js';
import { OutgoingLog } from './outgoing-log.js';
import { states } from './outgoing-log-rows.js';
import { outgoingLogTable } from './sqlite-schema.js';
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
    db.exec(outgoingLogTable);
    const log = new OutgoingLog();
    const referenced = new Set<number>();
    for (const row of db.prepare('SELECT * FROM outgoing ORDER BY client_id, seq').iterate() as IterableIterator<OutgoingRowV1>) {
      log.set(row.client_id, entryFromRow(row), true);
      referenced.add(row.message_id);
    }
    for (const row of db.prepare('SELECT * FROM messages').iterate() as IterableIterator<MessageRow>) if (referenced.has(row.id)) log.addMessage(messageFromRow(row));
    const { row, data } = log.commit();
    if (row !== undefined) db.prepare('INSERT INTO outgoing_log (row, data) VALUES (?, ?)').run(row, data);
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
