// The persistence store alone, without sockets: what recording QoS 1 deliveries to persistent
// sessions costs per delivery (CPU of this process, fsync wait excluded by measuring CPU time).
// One message to S subscribers per turn, as the broker records it: messageAdd, S × outgoingAdd,
// commit; on the next turn the S acknowledgements (outgoingDelete) and messageDelete, commit.
//   node --import tsx bench/store.ts [--subscribers 100] [--messages 2000] [--synchronous full|normal]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

const subscribers = Number(option('--subscribers', '100'));
const messages = Number(option('--messages', '2000'));
const synchronous = option('--synchronous', 'full') === 'normal' ? 'normal' : 'full';
const dir = mkdtempSync(join(tmpdir(), 'culex-store-bench-'));
const store = SqliteStore.open({ file: join(dir, 'culex.db'), synchronous });
await store.load();
const clients = Array.from({ length: subscribers }, (_, i) => `bench-subscriber-${i}`);
for (const clientId of clients) {
  store.sessionSave({ clientId, protocolVersion: 4, expiryInterval: 3600, disconnectedAt: 0 });
  store.subscriptionSet(clientId, { filter: 'bench/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
}
await store.sync();

const payload = Buffer.alloc(16, 7);
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let m = 1; m <= messages; m++) {
  store.messageAdd({ id: m, topic: 'bench/topic', payload, qos: 1, retain: false, expiresAt: 0, receivedAt: Date.now() });
  for (const clientId of clients) store.outgoingAdd(clientId, { seq: m, messageId: m, qos: 1, retain: false, packetId: (m % 65535) + 1, state: 'publish' });
  await store.sync();
  for (const clientId of clients) store.outgoingDelete(clientId, m);
  store.messageDelete(m);
}
await store.sync();
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
await store.close();
rmSync(dir, { recursive: true, force: true });
const deliveries = messages * subscribers;
const cpuMicros = cpu.user + cpu.system;
process.stdout.write(
  `${subscribers} subscribers, ${messages} messages, synchronous=${synchronous}: ${(deliveries / seconds).toFixed(0)} deliveries/s, ` +
    `${(cpuMicros / deliveries).toFixed(2)} µs CPU per delivery (user ${(cpu.user / deliveries).toFixed(2)}, system ${(cpu.system / deliveries).toFixed(2)}), ` +
    `${((seconds * 1e6) / messages).toFixed(0)} µs per message wall\n`,
);
