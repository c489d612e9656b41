// The bridges of one broker, started together after the listeners and stopped before the broker.
// In a cluster every node may have the same `connection` sections; each bridge then runs on one node
// at a time, the holder of a lease in Redis named after it, so the remote sees one client (no
// duplicates, no client id takeover fights) and another node takes the bridge over when its node
// stops or dies. The bridge's local subscriptions are in the cluster's route table like any others,
// so it carries what clients of every node publish, and what it brings in reaches every node.

import type { Broker } from '../broker/broker.js';
import { Bridge, type BridgeStatus } from './bridge.js';
import type { BridgeConfig } from './config.js';

export class Bridges {
  readonly list: readonly Bridge[];
  private readonly leases: Array<{ stop(): Promise<void> }> = [];

  constructor(
    private readonly broker: Broker,
    configs: readonly BridgeConfig[],
  ) {
    this.list = configs.map((config) => new Bridge(broker, config));
  }

  start(): void {
    const cluster = this.broker.cluster;
    for (const bridge of this.list) {
      if (cluster === undefined) {
        bridge.start();
        continue;
      }
      bridge.standBy();
      const log = (message: string): void => this.broker.options.logger.log('notice', `Bridge ${bridge.config.name}: ${message}`);
      this.leases.push(
        cluster.lease(`bridge:${bridge.config.name}`, {
          acquired: () => {
            log('this node runs the bridge for the cluster.');
            bridge.start();
          },
          lost: () => {
            log('another node of the cluster runs the bridge now; standing by.');
            bridge.stop();
            bridge.standBy();
          },
        }),
      );
    }
  }

  /** Stops every bridge and releases its lease, so that another node of the cluster takes it at once. */
  async stop(): Promise<void> {
    for (const bridge of this.list) bridge.stop();
    await Promise.all(this.leases.splice(0).map((lease) => lease.stop()));
  }

  /** Each bridge's state and counters (for $SYS and metrics). */
  status(): BridgeStatus[] {
    return this.list.map((bridge) => bridge.status);
  }
}
