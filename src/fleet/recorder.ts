// The recorder: a persistent MQTT 5 session subscribed to `sensor_data/#` at QoS 1, readings written
// in batches, each message acknowledged only once its batch is committed. Nothing is lost when the
// recorder stops or crashes (unacknowledged messages stay queued in the broker and come again) and
// nothing is stored twice (the table's key is (sensor, seq)).

import { connect, type MqttClient } from 'mqtt';
import { DeferredAcks, type PendingAck } from './deferred-acks.js';
import { parseReading, type Reading } from './messages.js';
import type { ReadingStore } from './reading-store.js';
import { sensorOf, type FleetTopics } from './topics.js';

export interface RecorderOptions {
  readonly url: string;
  readonly store: ReadingStore;
  readonly topics: FleetTopics;
  /** The session's name; keep it across restarts, it is what the broker queues for. */
  readonly clientId?: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Rows per transaction at most (default 500). */
  readonly batchSize?: number;
  /** How long a reading may wait for more to join its batch, in ms (default 100). */
  readonly flushMs?: number;
  /** Unacknowledged messages the broker may send ahead (MQTT 5 Receive Maximum, default 1000). */
  readonly receiveMaximum?: number;
  /** How long the broker keeps the session while the recorder is away, in s (default 7 days). */
  readonly sessionExpirySeconds?: number;
  /** Refused payloads and database trouble. */
  readonly report?: (message: string) => void;
}

export interface RecorderStats {
  /** Messages received, duplicates included. */
  received: number;
  /** New rows committed. */
  stored: number;
  /** Committed readings the table already had (redeliveries). */
  duplicates: number;
  /** Payloads that were not readings, or named another sensor than their topic. */
  refused: number;
  batches: number;
  failedCommits: number;
}

interface Pending {
  /** Undefined for a refused message: nothing to store, but its acknowledgement keeps its place. */
  readonly reading: Reading | undefined;
  readonly ack: PendingAck | undefined;
}

const RETRY_MS = 1000;

export class Recorder {
  readonly stats: RecorderStats = { received: 0, stored: 0, duplicates: 0, refused: 0, batches: 0, failedCommits: 0 };
  readonly #client: MqttClient;
  readonly #acks: DeferredAcks;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #stopping = false;
  #ended = false;
  readonly #batchSize: number;
  readonly #flushMs: number;

  constructor(private readonly options: RecorderOptions) {
    this.#batchSize = options.batchSize ?? 500;
    this.#flushMs = options.flushMs ?? 100;
    this.#client = connect(options.url, {
      clientId: options.clientId ?? 'culex-recorder',
      username: options.username,
      password: options.password,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: options.sessionExpirySeconds ?? 7 * 24 * 3600, receiveMaximum: options.receiveMaximum ?? 1000 },
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      manualConnect: true,
    });
    this.#acks = new DeferredAcks(this.#client, (packet, ack) => this.#receive(packet.topic, packet.payload as Buffer, ack));
    this.#client.on('error', (error) => this.#report(`broker: ${error.message}`));
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Connects and subscribes; rejects when the broker refuses the login or the subscription. */
  async start(timeoutMs = 15_000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`recorder: no connection to ${this.options.url} within ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.#client.off('connect', onConnect);
        this.#client.off('error', onError);
        if (error) {
          this.#client.end(true);
          reject(error);
        } else resolve();
      };
      const onConnect = (): void => finish();
      const onError = (error: Error): void => {
        if ('code' in error && typeof error.code === 'number') finish(new Error(`recorder: ${error.message}`));
      };
      this.#client.on('connect', onConnect);
      this.#client.on('error', onError);
      this.#client.connect();
    });
    // Subscribing again on a resumed session is harmless: it replaces the same subscription.
    const granted = await this.#client.subscribeAsync(`${this.options.topics.data}/#`, { qos: 1 });
    if (granted.some((grant) => grant.qos >= 0x80)) {
      await this.#client.endAsync(true);
      throw new Error(`recorder: not allowed to subscribe to ${this.options.topics.data}/#`);
    }
  }

  /** Commits what has arrived, acknowledges it, then disconnects (the session stays in the broker). */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    for (let round = 0; round < 10 && (this.#pending.length > 0 || this.#flushing !== undefined); round++) await this.#flush();
    if (!this.#ended) await this.#client.endAsync();
    this.#ended = true;
  }

  /** Drops the connection at once, committing and acknowledging nothing more: what a crash looks like to the broker. */
  async abandon(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    if (!this.#ended) await this.#client.endAsync(true);
    this.#ended = true;
  }

  #report(message: string): void {
    this.options.report?.(message);
  }

  #receive(topic: string, payload: Buffer, ack: PendingAck | undefined): void {
    this.stats.received++;
    const reading = parseReading(payload);
    const fromTopic = sensorOf(this.options.topics.data, topic);
    if (typeof reading === 'string' || reading.sensor !== fromTopic) {
      this.stats.refused++;
      this.#report(`refused a message on ${topic}: ${typeof reading === 'string' ? reading : `it names sensor "${reading.sensor}"`}`);
      // Acknowledged all the same, in its turn: it would only come back.
      this.#pending.push({ reading: undefined, ack });
    } else this.#pending.push({ reading, ack });
    if (this.#pending.length >= this.#batchSize) void this.#flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => void this.#flush(), this.#flushMs);
  }

  /** Commits the pending readings in batches, one transaction at a time, and acknowledges them. */
  #flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#flushing !== undefined) return this.#flushing;
    this.#flushing = this.#commitAll().finally(() => {
      this.#flushing = undefined;
      // What arrived during the commit.
      if (this.#pending.length > 0 && !this.#stopping && this.#timer === undefined) this.#timer = setTimeout(() => void this.#flush(), this.#flushMs);
    });
    return this.#flushing;
  }

  async #commitAll(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, this.#batchSize);
      const readings = batch.flatMap((entry) => (entry.reading === undefined ? [] : [entry.reading]));
      try {
        const added = await this.options.store.insert(readings);
        this.stats.batches++;
        this.stats.stored += added;
        this.stats.duplicates += readings.length - added;
      } catch (error) {
        // Nothing acknowledged: the broker keeps these messages until a later commit succeeds.
        this.stats.failedCommits++;
        this.#report(`database: ${error instanceof Error ? error.message : String(error)} (retrying in ${RETRY_MS / 1000} s)`);
        if (this.#stopping) return;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      this.#pending = this.#pending.slice(batch.length);
      this.#acks.acknowledge(batch.flatMap((entry) => (entry.ack === undefined ? [] : [entry.ack])));
    }
  }
}
