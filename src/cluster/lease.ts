// A named lease in Redis, so that one node of the cluster at a time runs something (a bridge whose
// `connection` section every node has). The holder renews the key every period; the key lives for
// three periods, so when the holder dies another node takes the lease within three periods; a node
// that stops releases it at once. A standby node tries to take it every period.

import type { LeaseHolder } from '../broker/cluster-port.js';
import { RELEASE_LOCK, RENEW_LOCK, clusterKeys as keys } from './keys.js';
import type { RedisLink } from './redis-link.js';

export class Lease {
  private held = false;
  private stopped = false;
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly key: string;

  constructor(
    private readonly link: RedisLink,
    name: string,
    private readonly owner: string,
    private readonly periodMs: number,
    private readonly holder: LeaseHolder,
  ) {
    this.key = keys.lease(name);
  }

  get isHeld(): boolean {
    return this.held;
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.periodMs);
    this.timer.unref();
  }

  /** Stops trying and releases the lease if held (the holder's work is the caller's to stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    try {
      await this.link.commands.eval(RELEASE_LOCK, 1, this.key, this.owner);
    } catch {
      // Redis away: the key expires by itself
    }
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped || !this.link.isUp) return;
    this.busy = true;
    try {
      const ttl = this.periodMs * 3;
      if (this.held) {
        const renewed = await this.link.commands.eval(RENEW_LOCK, 1, this.key, this.owner, String(ttl));
        if (renewed !== 1 && !this.stopped) {
          this.held = false;
          this.holder.lost();
        }
      } else {
        const taken = await this.link.commands.set(this.key, this.owner, 'PX', ttl, 'NX');
        if (taken === 'OK' && !this.stopped) {
          this.held = true;
          this.holder.acquired();
        }
      }
    } catch {
      // Redis away: the holder keeps its work (nobody can take the lease meanwhile); next period tries again
    } finally {
      this.busy = false;
    }
  }
}
