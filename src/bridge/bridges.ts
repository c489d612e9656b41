// The bridges of one broker, started together after the listeners and stopped before the broker.

import type { Broker } from '../broker/broker.js';
import { Bridge, type BridgeStatus } from './bridge.js';
import type { BridgeConfig } from './config.js';

export class Bridges {
  readonly list: readonly Bridge[];

  constructor(broker: Broker, configs: readonly BridgeConfig[]) {
    this.list = configs.map((config) => new Bridge(broker, config));
  }

  start(): void {
    for (const bridge of this.list) bridge.start();
  }

  stop(): void {
    for (const bridge of this.list) bridge.stop();
  }

  /** Each bridge's state and counters (for $SYS and metrics). */
  status(): BridgeStatus[] {
    return this.list.map((bridge) => bridge.status);
  }
}
