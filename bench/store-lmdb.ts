// The choice of SQLite for persistence, measured: the same work as bench/store.ts (one message to
// S persistent subscribers per commit, then their S acknowledgements in the next commit) done with
// LMDB through lmdb-js, durable commits (fsync) in both. lmdb is not a dependency of Culex; install
// it for this measurement only:
//   npm install --no-save lmdb@3 && node --import tsx bench/store-lmdb.ts [--subscribers 100] [--messages 2000]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface LmdbDatabase {
  transactionSync<T>(action: () => T): T;
  put(key: unknown, value: unknown): unknown;
  remove(key: unknown): unknown;
  close(): Promise<void>;
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

let open: (options: { path: string }) => LmdbDatabase;
try {
  ({ open } = (await import('lmdb' as string)) as { open: typeof open });
} catch {
  process.stderr.write('bench/store-lmdb.ts: lmdb is not installed: npm install --no-save lmdb@3\n');
  process.exit(2);
}

const subscribers = Number(option('--subscribers', '100'));
const messages = Number(option('--messages', '2000'));
const dir = mkdtempSync(join(tmpdir(), 'culex-lmdb-bench-'));
const db = open({ path: join(dir, 'store') }); // durable by default: each commit is synced
const clients = Array.from({ length: subscribers }, (_, i) => `bench-subscriber-${i}`);
const payload = Buffer.alloc(16, 7);

const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let m = 1; m <= messages; m++) {
  db.transactionSync(() => {
    db.put(['message', m], { id: m, topic: 'bench/topic', payload, qos: 1, retain: false, expiresAt: 0, receivedAt: Date.now() });
    for (const clientId of clients) db.put(['outgoing', clientId, m], { messageId: m, qos: 1, retain: false, packetId: (m % 65535) + 1, state: 1 });
  });
  db.transactionSync(() => {
    for (const clientId of clients) db.remove(['outgoing', clientId, m]);
    db.remove(['message', m]);
  });
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
await db.close();
rmSync(dir, { recursive: true, force: true });
const deliveries = messages * subscribers;
process.stdout.write(
  `lmdb: ${subscribers} subscribers, ${messages} messages: ${(deliveries / seconds).toFixed(0)} deliveries/s, ` +
    `${((cpu.user + cpu.system) / deliveries).toFixed(2)} µs CPU per delivery (user ${(cpu.user / deliveries).toFixed(2)}, system ${(cpu.system / deliveries).toFixed(2)}), ` +
    `${((seconds * 1e6) / messages).toFixed(0)} µs per message wall\n`,
);
