// The node's connections to Redis: one for commands, one for subscriptions, on a single server or a
// Redis Cluster (ioredis). Per-node data channels use sharded pub/sub (SPUBLISH/SSUBSCRIBE) on a
// Redis Cluster, so a message is carried by the shard that owns the receiving node's channel and
// not broadcast over the cluster bus; broadcast channels (route changes, retained changes) use
// plain PUBLISH. While Redis is away commands fail at once instead of queueing without bound.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ClusterUrl } from './cluster-url.js';

export type Commands = Redis | Cluster;

export interface RedisEvents {
  /** A message on a subscribed channel (sharded or not). */
  message(channel: string, data: Buffer): void;
  /** Commands work again after an outage (or for the first time). */
  ready(): void;
  /** The connection to Redis was lost. */
  down(reason: string): void;
}

/**
 * A connection (lazy: call connect()) to the Redis server or Redis Cluster of a cluster URL. While
 * Redis is away commands fail at once instead of queueing without bound; it reconnects for ever,
 * at most every 2 s, so a node outlives a Redis outage.
 */
export function redisClient(url: ClusterUrl): Commands {
  const auth = { ...(url.username !== undefined ? { username: url.username } : {}), ...(url.password !== undefined ? { password: url.password } : {}), ...(url.tls ? { tls: {} } : {}) };
  if (url.kind === 'cluster') {
    return new Cluster(
      url.endpoints.map((e) => ({ host: e.host, port: e.port })),
      {
        lazyConnect: true,
        enableOfflineQueue: false,
        shardedSubscribers: true,
        clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
        clusterNodeRetryStrategy: (times) => Math.min(times * 200, 2000),
        redisOptions: { connectTimeout: 5000, maxRetriesPerRequest: 1, ...auth },
      },
    );
  }
  const endpoint = url.endpoints[0]!;
  const options: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...auth,
  };
  return new Redis({ ...options, host: endpoint.host, port: endpoint.port, db: url.db });
}

export class RedisLink {
  readonly commands: Commands;
  private readonly subscriber: Commands;
  readonly sharded: boolean;
  private up = false;

  constructor(
    url: ClusterUrl,
    private readonly events: RedisEvents,
  ) {
    this.sharded = url.kind === 'cluster';
    this.commands = redisClient(url);
    this.subscriber = redisClient(url);
    this.subscriber.on('messageBuffer', (channel: Buffer, data: Buffer) => this.events.message(channel.toString(), data));
    this.subscriber.on('smessageBuffer', (channel: Buffer, data: Buffer) => this.events.message(channel.toString(), data));
    // errors are reported through 'down'; an unhandled 'error' event would crash the process
    this.subscriber.on('error', () => {});
    this.commands.on('error', () => {});
    this.commands.on('ready', () => {
      if (this.up) return;
      this.up = true;
      this.events.ready();
    });
    const lost = (): void => {
      if (!this.up) return;
      this.up = false;
      this.events.down('connection to Redis lost');
    };
    this.commands.on('close', lost);
    this.commands.on('end', lost);
    if (this.commands instanceof Cluster) this.commands.on('node error', lost);
  }

  get isUp(): boolean {
    return this.up && this.commands.status === 'ready';
  }

  /** Connects both connections; rejects (and gives up) when Redis cannot be reached. */
  async connect(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all([this.commands.connect(), this.subscriber.connect()]), timeout]);
      await Promise.race([this.commands.ping(), timeout]);
    } catch (error) {
      this.commands.disconnect();
      this.subscriber.disconnect();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Subscribes to this node's data channel (sharded on a Redis Cluster) and the broadcast channels. */
  async subscribe(dataChannel: string, broadcastChannels: readonly string[]): Promise<void> {
    if (this.sharded) await (this.subscriber as Cluster).ssubscribe(dataChannel);
    else await this.subscriber.subscribe(dataChannel);
    await this.subscriber.subscribe(...broadcastChannels);
  }

  async close(): Promise<void> {
    this.up = false;
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
