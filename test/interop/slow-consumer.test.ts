// A hostile consumer against the broker as users run it (`culex broker` in a child process): a
// subscriber that stops reading its socket while a publisher floods QoS 0 1 KiB messages at full
// speed. The broker must drop for the stalled socket rather than buffer without bound (RSS read from
// /proc/PID/status), keep serving a healthy subscriber, and keep answering new CONNECTs promptly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { encodePacket } from '../../src/protocol/writer.js';
import type { Packet } from '../../src/protocol/packets.js';
import { startCulexProcess } from '../helpers/culex-process.js';

const floodMs = 5000;
const topic = 'flood/data';
const payload = Buffer.alloc(1024, 0x61);

/** Resident set size of a process in bytes, from /proc/PID/status (VmRSS is in kB). */
function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function connectPacket(clientId: string): Packet {
  return { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId };
}

function subscribePacket(filter: string): Packet {
  return { type: 'subscribe', packetId: 1, subscriptions: [{ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] };
}

/** Opens a socket, sends the packets, and resolves once replyBytes bytes have come back (the expected acks). */
function openWith(port: number, packets: readonly Packet[], replyBytes: number, timeoutMs = 3000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= replyBytes) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(socket);
      }
    };
    socket.on('data', onData);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      for (const packet of packets) socket.write(encodePacket(packet, 4));
    });
  });
}

/** Milliseconds from opening a TCP connection to its CONNACK. */
async function connackTime(port: number, clientId: string): Promise<number> {
  const started = performance.now();
  const socket = await openWith(port, [connectPacket(clientId)], 4, 5000);
  const elapsed = performance.now() - started;
  socket.destroy();
  return elapsed;
}

test('a subscriber that stops reading during a QoS 0 flood does not grow the broker without bound nor stall other clients', { timeout: 90_000 }, async (t) => {
  const broker = await startCulexProcess();
  const sockets: Socket[] = [];
  try {
    const port = broker.port;
    // CONNACK (4 bytes) + SUBACK (5 bytes) before each subscriber counts as subscribed.
    const stalled = await openWith(port, [connectPacket('stalled'), subscribePacket(topic)], 9);
    stalled.pause(); // never reads again: the kernel buffers fill, then the broker's
    sockets.push(stalled);
    const healthy = await openWith(port, [connectPacket('healthy'), subscribePacket(topic)], 9);
    sockets.push(healthy);
    const healthyBuckets = new Map<number, number>();
    let healthyBytes = 0;
    const start = performance.now();
    healthy.on('data', (chunk: Buffer) => {
      healthyBytes += chunk.length;
      const bucket = Math.floor((performance.now() - start) / 1000);
      healthyBuckets.set(bucket, (healthyBuckets.get(bucket) ?? 0) + chunk.length);
    });

    const rssBefore = rssOf(broker.pid);
    let rssMax = rssBefore;
    const publisher = await openWith(port, [connectPacket('flooder')], 4);
    sockets.push(publisher);
    const one = encodePacket({ type: 'publish', topic, payload, qos: 0, retain: false, dup: false }, 4);
    const batch = Buffer.concat(Array.from({ length: 64 }, () => one));
    let sentBytes = 0;
    let flooding = true;
    const flood = (): void => {
      if (!flooding || publisher.destroyed) return;
      sentBytes += batch.length;
      if (publisher.write(batch)) setImmediate(flood);
      else publisher.once('drain', flood);
    };
    flood();

    const connackTimes: number[] = [];
    let probe = 0;
    const deadline = start + floodMs;
    while (performance.now() < deadline) {
      connackTimes.push(await connackTime(port, `probe-${++probe}`));
      rssMax = Math.max(rssMax, rssOf(broker.pid));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    flooding = false;
    const rssAfter = rssOf(broker.pid);
    rssMax = Math.max(rssMax, rssAfter);

    const worst = Math.max(...connackTimes);
    const perSecond = [...Array(Math.floor(floodMs / 1000)).keys()].map((second) => healthyBuckets.get(second) ?? 0);
    const figures = [
      `published ${mib(sentBytes)} (${Math.round(sentBytes / one.length)} messages) in ${floodMs} ms`,
      `healthy subscriber received ${mib(healthyBytes)}; per second: ${perSecond.map(mib).join(', ')}`,
      `broker RSS before ${mib(rssBefore)}, max ${mib(rssMax)}, after ${mib(rssAfter)} (growth ${mib(rssMax - rssBefore)})`,
      `${connackTimes.length} CONNACK probes: worst ${worst.toFixed(1)} ms, median ${connackTimes.sort((a, b) => a - b)[connackTimes.length >> 1]!.toFixed(1)} ms`,
    ];
    for (const line of figures) t.diagnostic(`slow-consumer: ${line}`);

    assert.ok(rssMax - rssBefore < 300 * 1024 * 1024, `broker RSS grew by ${mib(rssMax - rssBefore)}`);
    // Every probe got its CONNACK (each is bounded at 5 s, or the test fails); how fast is a figure
    // for the benchmark (npm run bench, the flood scenario), not a timed assertion here.
    assert.ok(connackTimes.length > 0, 'no CONNACK probe ran during the flood');
    for (const [second, bytes] of perSecond.entries()) assert.ok(bytes > 0, `the healthy subscriber received nothing in second ${second}`);
    assert.ok(sentBytes > 10 * 1024 * 1024, `the flood was too weak to prove anything (${mib(sentBytes)})`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await broker.stop('SIGTERM');
  }
});
