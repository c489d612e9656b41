// The SQLite store's writer thread. A commit with synchronous=FULL waits for fsync (1–3 ms on this
// kind of disk) and better-sqlite3 is synchronous: on the broker's thread that wait would stall
// every client at every commit. Here it stalls only this thread, and while one commit is on its way
// to disk the broker goes on serving and gathers the next one (group commit grows with the load).
//
// Messages in: { type: 'commit', writes } and { type: 'close' }, handled in order.
// Messages out: 'ready' | 'committed' | 'failed' (a commit) | 'closed', with the file's size.

import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { batchWriter, configureConnection, databaseBytes, type Synchronous, type WriteBatch } from './sqlite-writes.js';

export interface WriterData {
  readonly file: string;
  readonly synchronous: Synchronous;
}

export type WriterRequest = { readonly type: 'commit'; readonly writes: WriteBatch } | { readonly type: 'close' };
export type WriterReply =
  | { readonly type: 'ready'; readonly bytes: number }
  | { readonly type: 'committed'; readonly bytes: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'closed' };

const port = parentPort;
if (port !== null) {
  const { file, synchronous } = workerData as WriterData;
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  const db = new Database(file, { timeout: 5000 }); // the broker's thread has just let the file go
  configureConnection(db, synchronous);
  const write = batchWriter(db);
  const reply = (message: WriterReply): void => port.postMessage(message);
  reply({ type: 'ready', bytes: databaseBytes(db) });
  port.on('message', (request: WriterRequest) => {
    if (request.type === 'close') {
      db.close();
      reply({ type: 'closed' });
      port.close();
      return;
    }
    try {
      write(request.writes);
      reply({ type: 'committed', bytes: databaseBytes(db) });
    } catch (error) {
      reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  });
}
