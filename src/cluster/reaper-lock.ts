// A reaper lock (culex:{node:ID}:reaper): held by the node cleaning up after node ID, or by node ID
// itself while it joins, so that no node writes under an id while another cleans up after it. It
// lives three heartbeats, as an alive key does, and its holder renews it every heartbeat while it
// works, only if it still holds it: a clean-up may last as long as it needs (adopting very many
// sessions) without a restarting node joining before it ends, and a holder that dies leaves the lock
// to expire as soon as its alive key does.

import { RELEASE_LOCK, RENEW_LOCK, clusterKeys as keys } from './keys.js';
import type { Commands } from './redis-link.js';

export class ReaperLock {
  private readonly timer: NodeJS.Timeout;
  private released = false;

  private constructor(
    private readonly commands: Commands,
    private readonly key: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    heartbeatMs: number,
    /** The lock expired or was taken while held (the holder stalled or was cut off from Redis for three heartbeats). */
    private readonly lost: () => void,
  ) {
    this.timer = setInterval(() => void this.renew(), heartbeatMs);
    this.timer.unref();
  }

  /** Takes node's lock for owner, renewed until released; undefined when another holds it. */
  static async take(commands: Commands, node: string, owner: string, heartbeatMs: number, lost: () => void): Promise<ReaperLock | undefined> {
    const key = keys.reaper(node);
    const ttlMs = heartbeatMs * 3;
    if ((await commands.set(key, owner, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
    return new ReaperLock(commands, key, owner, ttlMs, heartbeatMs, lost);
  }

  /** Who holds node's lock, if anyone. */
  static holder(commands: Commands, node: string): Promise<string | null> {
    return commands.get(keys.reaper(node));
  }

  private async renew(): Promise<void> {
    try {
      const renewed = await this.commands.eval(RENEW_LOCK, 1, this.key, this.owner, String(this.ttlMs));
      if (renewed === 1 || this.released) return;
      clearInterval(this.timer);
      this.lost();
    } catch {
      // Redis away: the next heartbeat tries again (the lock may expire meanwhile)
    }
  }

  /** Stops renewing and deletes the lock if this owner still holds it. */
  async release(): Promise<void> {
    this.released = true;
    clearInterval(this.timer);
    await this.commands.eval(RELEASE_LOCK, 1, this.key, this.owner);
  }
}
