// The generator side of the QoS 0 flood: publishers that write as fast as TCP accepts (waiting only
// for 'drain'), a subscriber that reads everything, and one that never reads (a stalled consumer the
// broker must shed QoS 0 for). Runs in its own thread so the main thread's connection probes are not
// queued behind the flood's writes.

import { parentPort, workerData } from 'node:worker_threads';
import { encodePublish } from '../../src/protocol/writer.js';
import { BenchClient, BENCH_PROTOCOL_VERSION } from '../fanout/client.js';

export interface FloodWorkerData {
  readonly host: string;
  readonly port: number;
  readonly publishers: number;
  readonly payload: number;
  readonly seconds: number;
  readonly prefix: string;
  readonly timeoutMs: number;
}

export type FloodFromWorker =
  | { type: 'flooding' }
  | { type: 'error'; message: string }
  | { type: 'done'; published: number; delivered: number; publisherFailures: number };

/** Messages per write: one buffer of back-to-back PUBLISH packets, written again and again. */
const BATCH = 256;

const data = workerData as FloodWorkerData;
const port = parentPort!;

async function main(): Promise<void> {
  const open = (name: string): Promise<BenchClient> => BenchClient.open(data.host, data.port, `${data.prefix}-${name}-${process.pid}`, data.timeoutMs);
  const reader = await open('reader');
  let delivered = 0;
  reader.onPacket = (packet) => {
    if (packet.type === 'publish') delivered++;
  };
  await reader.subscribe(`${data.prefix}/#`, 0, data.timeoutMs);
  const stalled = await open('stalled');
  await stalled.subscribe(`${data.prefix}/#`, 0, data.timeoutMs);
  stalled.socket.pause(); // never reads again: its socket and the broker's queue for it fill up
  const publishers = await Promise.all(Array.from({ length: data.publishers }, (_, i) => open(`pub-${i}`)));

  let published = 0;
  let publisherFailures = 0;
  let stop = false;
  const endAt = Date.now() + data.seconds * 1000;
  // A publisher waiting for 'drain' from a broker that stopped reading ends at the deadline too.
  const stopped: (() => void)[] = [];
  const deadline = setTimeout(() => {
    stop = true;
    for (const resolve of stopped) resolve();
  }, data.seconds * 1000);
  port.postMessage({ type: 'flooding' } satisfies FloodFromWorker);
  await Promise.all(
    publishers.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          stopped.push(resolve);
          const packet = encodePublish(
            { type: 'publish', topic: `${data.prefix}/${i}`, payload: Buffer.alloc(data.payload), qos: 0, retain: false, dup: false },
            BENCH_PROTOCOL_VERSION,
          ).bytes;
          const batch = Buffer.concat(Array.from({ length: BATCH }, () => packet));
          client.onFailure = () => {
            publisherFailures++;
            resolve();
          };
          const pump = (): void => {
            for (let n = 0; n < 64; n++) {
              if (stop || Date.now() >= endAt || client.failure !== undefined) {
                resolve();
                return;
              }
              published += BATCH;
              if (!client.socket.write(batch)) {
                client.socket.once('drain', pump);
                return;
              }
            }
            setImmediate(pump);
          };
          pump();
        }),
    ),
  );
  stop = true;
  clearTimeout(deadline);
  for (const client of [...publishers, reader, stalled]) {
    client.onFailure = () => {};
    client.close();
  }
  port.postMessage({ type: 'done', published, delivered, publisherFailures } satisfies FloodFromWorker);
}

main().catch((error: unknown) => port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies FloodFromWorker));
