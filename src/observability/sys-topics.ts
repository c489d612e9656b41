// The $SYS/broker/... tree as Mosquitto 2.0 publishes it (src/sys_tree.c): retained, QoS 2, every
// sys_interval seconds; uptime every time, other topics only when their value changed, load
// averages when they moved by 0.01 or more. Clients can read $SYS but never publish to it.

import type { Broker } from '../broker/broker.js';
import { readFigures, type BrokerFigures } from './figures.js';
import { LoadAverage } from './load-average.js';

export interface SysTopicsOptions {
  /** Seconds between updates; 0 turns $SYS off. */
  readonly interval: number;
  /** Payload of $SYS/broker/version, e.g. "culex version 0.1.0". */
  readonly version: string;
  /** More topics and payloads published with the tree, when they change (e.g. the bridges'). */
  readonly extra?: () => ReadonlyArray<readonly [string, string]>;
}

/** Counters with a $SYS/broker/load/<name>/{1min,5min,15min} rate, per minute. */
const loadCounters = {
  'messages/received': (f: BrokerFigures) => f.messagesReceived,
  'messages/sent': (f: BrokerFigures) => f.messagesSent,
  'publish/received': (f: BrokerFigures) => f.publishReceived,
  'publish/sent': (f: BrokerFigures) => f.publishSent,
  'publish/dropped': (f: BrokerFigures) => f.publishDropped,
  'bytes/received': (f: BrokerFigures) => f.bytesReceived,
  'bytes/sent': (f: BrokerFigures) => f.bytesSent,
  sockets: (f: BrokerFigures) => f.connectionsTotal,
  connections: (f: BrokerFigures) => f.clientsAccepted,
} as const;

/** Topic → value, for the topics published when they change (the deprecated aliases included, as Mosquitto 2.0 still sends them). */
function plainTopics(f: BrokerFigures): ReadonlyArray<readonly [string, number]> {
  return [
    ['$SYS/broker/clients/total', f.clientsTotal],
    ['$SYS/broker/clients/maximum', f.clientsMaximum],
    ['$SYS/broker/clients/connected', f.clientsConnected],
    ['$SYS/broker/clients/active', f.clientsConnected],
    ['$SYS/broker/clients/disconnected', f.clientsDisconnected],
    ['$SYS/broker/clients/inactive', f.clientsDisconnected],
    ['$SYS/broker/clients/expired', f.clientsExpired],
    ['$SYS/broker/messages/received', f.messagesReceived],
    ['$SYS/broker/messages/sent', f.messagesSent],
    ['$SYS/broker/publish/messages/received', f.publishReceived],
    ['$SYS/broker/publish/messages/sent', f.publishSent],
    ['$SYS/broker/publish/messages/dropped', f.publishDropped],
    ['$SYS/broker/publish/bytes/received', f.publishBytesReceived],
    ['$SYS/broker/publish/bytes/sent', f.publishBytesSent],
    ['$SYS/broker/bytes/received', f.bytesReceived],
    ['$SYS/broker/bytes/sent', f.bytesSent],
    ['$SYS/broker/store/messages/count', f.storeMessages],
    ['$SYS/broker/messages/stored', f.storeMessages],
    ['$SYS/broker/store/messages/bytes', f.storeBytes],
    ['$SYS/broker/subscriptions/count', f.subscriptions],
    ['$SYS/broker/shared_subscriptions/count', f.sharedSubscriptions],
    ['$SYS/broker/retained messages/count', f.retainedMessages], // the space is Mosquitto's
    ['$SYS/broker/heap/current', f.heapBytes],
  ];
}

export class SysTopics {
  private timer: NodeJS.Timeout | undefined;
  private readonly published = new Map<string, string>();
  private readonly loads = new Map<string, { readonly counter: (f: BrokerFigures) => number; readonly averages: readonly LoadAverage[] }>();
  private heapMaximum = 0;

  constructor(
    private readonly broker: Broker,
    private readonly options: SysTopicsOptions,
  ) {
    for (const [name, counter] of Object.entries(loadCounters)) {
      this.loads.set(name, { counter, averages: [new LoadAverage(60), new LoadAverage(300), new LoadAverage(900)] });
    }
  }

  /** Publishes the whole tree now, then every interval; does nothing when the interval is 0. */
  start(): void {
    if (this.options.interval <= 0 || this.timer !== undefined) return;
    this.publish('$SYS/broker/version', this.options.version);
    this.update(Date.now());
    this.timer = setInterval(() => this.update(Date.now()), this.options.interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One update: uptime always, every other topic when its value changed. */
  update(now: number): void {
    if (this.broker.isClosing) return;
    const figures = readFigures(this.broker, now);
    this.publish('$SYS/broker/uptime', `${figures.uptimeSeconds} seconds`);
    for (const [topic, value] of plainTopics(figures)) this.publishChanged(topic, String(value));
    for (const [topic, value] of this.broker.cluster?.sysTopics() ?? []) this.publishChanged(topic, value); // Culex-only, per node
    for (const [topic, payload] of this.options.extra?.() ?? []) this.publishChanged(topic, payload);
    if (figures.heapBytes > this.heapMaximum) this.heapMaximum = figures.heapBytes;
    this.publishChanged('$SYS/broker/heap/maximum', String(this.heapMaximum));
    for (const [name, load] of this.loads) {
      const value = load.counter(figures);
      for (const average of load.averages) {
        const moved = average.sample(value, now);
        if (moved) this.publish(`$SYS/broker/load/${name}/${average.label}`, average.value.toFixed(2));
      }
    }
  }

  private publishChanged(topic: string, payload: string): void {
    if (this.published.get(topic) === payload) return;
    this.publish(topic, payload);
  }

  private publish(topic: string, payload: string): void {
    this.published.set(topic, payload);
    this.broker.publish(topic, payload, { qos: 2, retain: true });
  }
}
