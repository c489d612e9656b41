// Bridges under --cluster, for the tests in test/bridge/bridge-cluster*.test.ts: a redis-server,
// Debian's Mosquitto as the remote, a configuration file with one `connection` section (out up/#,
// in down/#), and Culex nodes started by the test; everything is stopped by the test, by PID.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CulexProcess } from './culex-process.js';
import { endPeers, type Inbox, type Peer } from './mqttjs.js';
import { findFreePort } from './ports.js';
import { startRedis, type RedisServer } from './redis.js';
import { startMosquittoConf, type RunningBroker } from './bridge-peers.js';

export const url = (port: number): string => `mqtt://127.0.0.1:${port}`;

/** Publishes probes until one reaches the inbox (routes and bridge subscriptions in place), then drains it. Bounded: 150 probes. */
export async function untilThrough(publish: () => Promise<unknown>, inbox: Inbox, what: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    await publish();
    if (!(await inbox.nothingWithin(200))) {
      await inbox.nothingWithin(500);
      inbox.drain();
      return;
    }
  }
  throw new Error(`${what}: no probe got through`);
}

export interface World {
  readonly redis: RedisServer;
  readonly remote: RunningBroker;
  readonly conf: string;
  readonly nodes: CulexProcess[];
  readonly peers: Peer[];
  close(): Promise<void>;
}

export async function world(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'culex-bridge-cluster-'));
  const redis = await startRedis();
  const remote = await startMosquittoConf(await findFreePort(), []);
  const conf = join(dir, 'bridge.conf');
  const section = ['connection central', `address 127.0.0.1:${remote.port}`, 'remote_clientid cluster-edge', 'restart_timeout 1', 'topic up/# out 1', 'topic down/# in 1'];
  writeFileSync(conf, ['allow_anonymous true', ...section, ''].join('\n'));
  const nodes: CulexProcess[] = [];
  const peers: Peer[] = [];
  return {
    redis,
    remote,
    conf,
    nodes,
    peers,
    async close() {
      await endPeers(...peers);
      await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
      await remote.stop();
      await redis.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The messages a client got, as "topic payload". */
export const lines = (inbox: Inbox): string[] => inbox.drain().map((message) => `${message.topic} ${message.payload}`);

