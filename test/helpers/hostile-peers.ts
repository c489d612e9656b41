// Misbehaving peers for robustness tests: a seeded random source, valid packet sequences encoded by
// the project's own writer and then damaged, and raw sockets that send bytes and hang up, every wait
// bounded. Also a memory figure taken after a full garbage collection.
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Packet, ProtocolVersion, QoS } from '../../src/protocol/packets.js';
import { encodePacket } from '../../src/protocol/writer.js';
import { prng } from './random.js';

/** The seeded generator of test/helpers/random.ts, under the name the robustness tests use. */
export const seededRandom = prng;

export const randomInt = (random: () => number, below: number): number => Math.floor(random() * below);

export function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = randomInt(random, 256);
  return bytes;
}

/** A plausible client conversation: CONNECT (with a will), SUBSCRIBE, PUBLISH at every QoS, PINGREQ, DISCONNECT. */
export function validConversation(random: () => number, clientId: string, topic: string): Buffer {
  const version = ([3, 4, 5] as const)[randomInt(random, 3)]! as ProtocolVersion;
  const v5 = version === 5;
  const packets: Packet[] = [
    {
      type: 'connect',
      protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      bridge: false,
      clean: true,
      keepalive: randomInt(random, 120),
      clientId,
      will: { topic: `${topic}/will`, payload: randomBytes(random, randomInt(random, 32)), qos: randomInt(random, 3) as QoS, retain: random() < 0.5 },
      ...(random() < 0.5 ? { username: 'user', password: Buffer.from('secret') } : {}),
      ...(v5 ? { properties: { sessionExpiryInterval: 0, receiveMaximum: 1 + randomInt(random, 100), userProperties: [['k', 'v'] as const] } } : {}),
    },
    {
      type: 'subscribe',
      packetId: 1 + randomInt(random, 65535),
      subscriptions: [{ filter: random() < 0.5 ? `${topic}/#` : `${topic}/+/x`, qos: randomInt(random, 3) as QoS, noLocal: false, retainAsPublished: v5, retainHandling: 0 }],
    },
  ];
  for (const qos of [0, 1, 2] as const) {
    packets.push({
      type: 'publish',
      topic: `${topic}/${qos}`,
      payload: randomBytes(random, randomInt(random, 200)),
      qos,
      retain: random() < 0.2,
      dup: false,
      ...(qos > 0 ? { packetId: 1 + randomInt(random, 65535) } : {}),
      ...(v5 ? { properties: { contentType: 'application/octet-stream', messageExpiryInterval: 5 } } : {}),
    });
  }
  packets.push({ type: 'pingreq' }, { type: 'disconnect' });
  return Buffer.concat(packets.map((packet) => encodePacket(packet, version)));
}

/** Flips 1–4 random bytes (XOR with a non-zero value); sometimes also cuts the tail off. */
export function mutate(random: () => number, valid: Buffer): Buffer {
  const bytes = Buffer.from(valid);
  const flips = 1 + randomInt(random, 4);
  for (let i = 0; i < flips; i++) bytes[randomInt(random, bytes.length)]! ^= 1 + randomInt(random, 255);
  return random() < 0.25 ? bytes.subarray(0, 1 + randomInt(random, bytes.length)) : bytes;
}

/** Splits bytes into 1–3 chunks at random points, to exercise the parser's buffering across reads. */
export function chunked(random: () => number, bytes: Buffer): Buffer[] {
  const cuts = [...new Set([randomInt(random, bytes.length), randomInt(random, bytes.length)])].filter((c) => c > 0).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > start) chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

/** Opens a TCP connection to 127.0.0.1:port; rejects on error or after timeoutMs. */
export function openSocket(port: number, timeoutMs = 3000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      socket.on('error', () => undefined); // resets are expected from these peers' point of view
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Resolves with the bytes received once the socket closes, or after ms (the socket is then destroyed). */
export function closedWithin(socket: Socket, ms: number): Promise<{ closed: boolean; received: Buffer }> {
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  return new Promise((resolve) => {
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ closed, received: Buffer.concat(received) });
    };
    const timer = setTimeout(() => finish(false), ms);
    if (socket.destroyed) finish(true);
    else socket.once('close', () => finish(true));
  });
}

/** Sends the chunks, one write each, then waits up to ms for the broker to close the connection. */
export async function sendAndHangUp(port: number, chunks: readonly Buffer[], ms: number): Promise<boolean> {
  const socket = await openSocket(port);
  const outcome = closedWithin(socket, ms);
  for (const chunk of chunks) if (!socket.destroyed) socket.write(chunk);
  return (await outcome).closed;
}

let gc: (() => void) | undefined;

/** The process's resident set size in bytes after a full garbage collection. */
export function settledRss(): number {
  if (gc === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) gc = exposed;
    else {
      setFlagsFromString('--expose-gc'); // without node --expose-gc: a context created now gets gc()
      gc = runInNewContext('gc') as () => void;
    }
  }
  gc();
  gc();
  return process.memoryUsage().rss;
}
