// What a third-party interop suite runs against: a single Culex broker (in this process, or the
// built CLI in a child process) or one redis-server with three `culex broker --cluster` nodes. The
// suites give each client a node number; a single broker ignores it, a cluster spreads the clients
// over its nodes, so publishers and subscribers sit on different nodes.
import type { Culex } from '../../src/index.js';
import { startBroker, type TestBroker } from './broker.js';
import { startCulexProcess, type CulexProcess } from './culex-process.js';
import { connectPeer, endPeers, type Peer } from './mqttjs.js';
import { runTool } from './processes.js';
import { startRedis, type RedisServer } from './redis.js';
import { requireTool } from './tools.js';

export interface InteropTarget {
  /** Said in the suites' titles: "a single broker", "a three-node cluster". */
  readonly title: string;
  /** Why it cannot run on this machine (tests then skip, or fail when CI=true), else undefined. */
  readonly missing: string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The MQTT port of node `node` (taken modulo the node count; a single broker has one). */
  port(node?: number): number;
  url(node?: number): string;
  /**
   * Resolves once every subscription and retained message made so far, on any node, has reached
   * every other node: a no-op on a single broker, a barrier on a cluster, whose routes and retained
   * messages travel between nodes after a Redis round trip (docs/CLUSTER.md, "Consistency").
   */
  settle(): Promise<void>;
  /** Client ids the broker (every node of a cluster) knows as connected or holding a session. */
  clientIds(): Promise<string[]>;
  /** What the broker process of `node` logged; undefined in process. */
  log(node?: number): string | undefined;
  /** The in-process broker, for tests that look inside it; undefined for child processes. */
  readonly culex: Culex | undefined;
}

const loopback = (port: number): string => `mqtt://127.0.0.1:${port}`;

/** A broker in this process (createBroker), on a free loopback port. */
export function inProcessBroker(): InteropTarget {
  let broker: TestBroker | undefined;
  const started = (): TestBroker => {
    if (broker === undefined) throw new Error('the broker is not started');
    return broker;
  };
  return {
    title: 'a single broker',
    missing: undefined,
    async start() {
      broker = await startBroker();
    },
    async stop() {
      await broker?.close();
    },
    port: () => started().port,
    url: () => started().url,
    settle: async () => undefined,
    clientIds: async () => [...started().culex.broker.channels.keys()],
    log: () => undefined,
    get culex() {
      return broker?.culex;
    },
  };
}

/** The built CLI, `culex broker -p PORT`, in a child process. */
export function brokerProcess(): InteropTarget {
  let broker: CulexProcess | undefined;
  const started = (): CulexProcess => {
    if (broker === undefined) throw new Error('the broker is not started');
    return broker;
  };
  return {
    title: 'a single broker',
    missing: undefined,
    async start() {
      broker = await startCulexProcess();
    },
    async stop() {
      await broker?.stop('SIGTERM');
    },
    port: () => started().port,
    url: () => loopback(started().port),
    settle: async () => undefined,
    clientIds: () => Promise.reject(new Error('a broker process does not list its clients')),
    log: () => started().log(),
    culex: undefined,
  };
}

const nodeNames = ['n1', 'n2', 'n3'] as const;

/**
 * One redis-server and three `culex broker --cluster redis://… --node-id nN` child processes, as
 * users run them (without persistence: a session stays on the node its client connects to).
 */
export function threeNodeCluster(): InteropTarget {
  const missing = requireTool('redis-server') && requireTool('redis-cli') ? undefined : 'redis-server not installed: apt-get install redis-server';
  let redis: RedisServer | undefined;
  const nodes: CulexProcess[] = [];
  /** One MQTT.js client per node that only carries settle()'s probes. */
  const probes: Peer[] = [];
  let rounds = 0;
  const node = (n = 0): CulexProcess => {
    const found = nodes[n % nodeNames.length];
    if (found === undefined) throw new Error('the cluster is not started');
    return found;
  };

  /**
   * For each node j: a probe client there subscribes to a fresh topic, and the probe clients of
   * the other nodes publish to it until it has their message. A node announces its route and
   * retained changes in order over one Redis connection, so once node k routes the probe topic to
   * node j, every change node j made before has reached node k too. `$` topics match no wildcard
   * filter of the tests [MQTT-4.7.2-1].
   */
  const settle = async (): Promise<void> => {
    const round = ++rounds;
    await Promise.all(
      probes.map(async (listener, j) => {
        const topic = `$culex-probe/${process.pid}/${round}/${j}`;
        const heard = new Set<string>();
        const onMessage = (received: string, payload: Buffer): void => {
          if (received === topic) heard.add(payload.toString());
        };
        listener.client.on('message', onMessage);
        try {
          await listener.client.subscribeAsync(topic, { qos: 0 });
          await Promise.all(
            probes.map(async (sender, k) => {
              if (k === j) return;
              for (let attempt = 0; !heard.has(String(k)); attempt++) {
                if (attempt === 250) throw new Error(`node ${nodeNames[j]}'s routes never reached node ${nodeNames[k]}`);
                sender.client.publish(topic, String(k), { qos: 0 });
                await new Promise((resolve) => setTimeout(resolve, 20));
              }
            }),
          );
          await listener.client.unsubscribeAsync(topic);
        } finally {
          listener.client.off('message', onMessage);
          listener.inbox.drain();
        }
      }),
    );
  };

  return {
    title: 'a three-node cluster',
    missing,
    async start() {
      if (missing !== undefined) throw new Error(`${missing} (required on CI)`);
      redis = await startRedis();
      const url = redis.url;
      nodes.push(...(await Promise.all(nodeNames.map((id) => startCulexProcess(['--cluster', url, '--node-id', id], 30_000)))));
      for (const [i, running] of nodes.entries()) probes.push(await connectPeer(loopback(running.port), { clientId: `culex-probe-${process.pid}-${i}` }));
    },
    async stop() {
      await endPeers(...probes);
      await Promise.all(nodes.map((running) => running.stop('SIGTERM')));
      await redis?.destroy();
    },
    port: (n) => node(n).port,
    url: (n) => loopback(node(n).port),
    settle,
    async clientIds() {
      if (redis === undefined) throw new Error('the cluster is not started');
      // a node claims a client id in Redis as it accepts the CONNECT, on the connection that carries
      // its route changes: once they have travelled, the claims made before have been written
      await settle();
      const listed = await runTool('redis-cli', ['-p', String(redis.port), '--raw', 'hkeys', 'culex:clients']);
      if (listed.code !== 0) throw new Error(`redis-cli hkeys failed: ${listed.stderr}`);
      return listed.stdout.split('\n').filter((id) => id !== '');
    },
    log: (n) => node(n).log(),
    culex: undefined,
  };
}

/** The describe() option that skips a suite whose target cannot run here (never on CI: it fails there). */
export const skipUnless = (target: InteropTarget): string | false => (target.missing !== undefined && process.env.CI !== 'true' ? target.missing : false);
