// One simulated sensor: its own MQTT.js client (client id = sensor id) that publishes a reading per
// sampling period on `sensor_data/<id>`, obeys orders on `config_change/<id>` and `config_change/all`
// at once, and keeps its retained `sensor_status/<id>` current (a will marks it offline).

import { connect, type MqttClient } from 'mqtt';
import { applyChange, parseConfigChange, type ConfigChange, type Reading, type SensorSettings, type SensorStatus } from './messages.js';
import { Signal, type SignalKind } from './signal.js';
import { ALL_SENSORS, configTopic, dataTopic, statusTopic, type FleetTopics } from './topics.js';

export interface SensorOptions {
  readonly id: string;
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly topics: FleetTopics;
  readonly kind: SignalKind;
  readonly settings: SensorSettings;
  /** QoS of the readings (the status is always QoS 1). */
  readonly qos: 0 | 1;
  /** Refused orders and connection trouble; silent by default. */
  readonly report?: (sensor: string, message: string) => void;
}

export const defaultSettings: SensorSettings = { sampleRateHz: 1, sensitivity: 1, enabled: true };

export class SimulatedSensor {
  readonly id: string;
  #settings: SensorSettings;
  #appliedAt = Date.now();
  #lastChange: string | undefined;
  /**
   * Starts from the clock (ms since 1970) and counts up by one per reading, so a restarted sensor
   * never reuses a number the recorder has already stored (as long as it averages under 1 kHz).
   */
  #seq = Date.now();
  #published = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextDue = 0;
  readonly #signal: Signal;
  readonly #client: MqttClient;
  #stopped = false;

  constructor(private readonly options: SensorOptions) {
    this.id = options.id;
    this.#settings = options.settings;
    this.#signal = new Signal(options.kind);
    const offline: SensorStatus = { sensor: options.id, online: false };
    this.#client = connect(options.url, {
      clientId: options.id,
      username: options.username,
      password: options.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      manualConnect: true,
      will: { topic: statusTopic(options.topics, options.id), payload: Buffer.from(JSON.stringify(offline)), qos: 1, retain: true },
    });
    this.#client.on('connect', () => {
      // A clean session each time: subscribe again, then say who we are.
      const { topics } = this.options;
      this.#client.subscribe([configTopic(topics, this.id), configTopic(topics, ALL_SENSORS)], { qos: 1 }, (error, granted) => {
        const refused = granted?.filter((grant) => grant.qos === 0x80) ?? [];
        if (error) this.#report(`subscribe failed: ${error.message}`);
        else if (refused.length > 0) this.#report(`not allowed to read ${refused.map((grant) => grant.topic).join(', ')}`);
      });
      this.#publishStatus();
      this.#schedule(Date.now());
    });
    this.#client.on('message', (_topic, payload) => this.#obey(payload));
    this.#client.on('error', (error) => this.#report(error.message));
  }

  get settings(): SensorSettings {
    return this.#settings;
  }

  /** Readings handed to the client so far. */
  get published(): number {
    return this.#published;
  }

  /** The seq the next reading will carry. */
  get nextSeq(): number {
    return this.#seq;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Connects; resolves at the first CONNACK, rejects if the broker refuses or cannot be reached in time. */
  start(timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${this.id}: no connection to ${this.options.url} within ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.#client.off('connect', onConnect);
        this.#client.off('error', onError);
        if (error) reject(error);
        else resolve();
      };
      const onConnect = (): void => finish();
      const onError = (error: Error): void => {
        // A refused CONNACK (bad password, not authorised) will not get better by retrying.
        if ('code' in error && typeof error.code === 'number') {
          this.#client.end(true);
          finish(new Error(`${this.id}: ${error.message}`));
        }
      };
      this.#client.on('connect', onConnect);
      this.#client.on('error', onError);
      this.#client.connect();
    });
  }

  /** Applies an order as if it had arrived on the config topic. */
  apply(change: ConfigChange): void {
    this.#settings = applyChange(this.#settings, change);
    this.#appliedAt = Date.now();
    this.#lastChange = change.id;
    this.#publishStatus();
    // The new rate takes effect now, not after the old period runs out.
    this.#schedule(Date.now());
  }

  /** Publishes the offline status (a clean DISCONNECT discards the will) and disconnects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#client.connected) {
      const offline: SensorStatus = { ...this.#status(), online: false };
      await new Promise<void>((resolve) => this.#client.publish(statusTopic(this.options.topics, this.id), JSON.stringify(offline), { qos: 1, retain: true }, () => resolve()));
    }
    await this.#client.endAsync();
  }

  #report(message: string): void {
    this.options.report?.(this.id, message);
  }

  #obey(payload: Buffer): void {
    const change = parseConfigChange(payload);
    if (typeof change === 'string') this.#report(`order refused: ${change}`);
    else this.apply(change);
  }

  #status(): SensorStatus {
    const { kind } = this.options;
    return { sensor: this.id, online: true, kind: kind.name, unit: kind.unit, ...this.#settings, appliedAt: this.#appliedAt, ...(this.#lastChange === undefined ? {} : { lastChange: this.#lastChange }) };
  }

  #publishStatus(): void {
    if (this.#stopped || !this.#client.connected) return;
    this.#client.publish(statusTopic(this.options.topics, this.id), JSON.stringify(this.#status()), { qos: 1, retain: true });
  }

  /** Plans the next reading at `due`; late timers do not cause bursts (the schedule restarts from now). */
  #schedule(due: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#nextDue = due;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - Date.now()));
  }

  #tick(): void {
    const now = Date.now();
    // A sensor that has lost its broker does not sample: no reading is numbered and then dropped.
    if (this.#settings.enabled && this.#client.connected) this.#publishReading(now);
    const period = 1000 / this.#settings.sampleRateHz;
    const next = this.#nextDue + period;
    this.#schedule(next < now - period ? now + period : next);
  }

  #publishReading(now: number): void {
    const reading: Reading = { sensor: this.id, ts: now, value: this.#signal.sample(now, this.#settings.sensitivity), unit: this.options.kind.unit, seq: this.#seq++ };
    this.#published++;
    this.#client.publish(dataTopic(this.options.topics, this.id), JSON.stringify(reading), { qos: this.options.qos });
  }
}
