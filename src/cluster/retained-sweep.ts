// Removes expired retained messages from Redis without anyone reading them [MQTT-3.3.2-5], so
// culex:retained stays bounded by the live messages. Each retained message with a Message Expiry
// Interval also has its expiry time in a sorted set (topic → epoch ms, retained-share.ts writes both
// in one MULTI); a sweep takes the entries due from it and deletes them from both, in one script.
//
// Why a sorted set and not a scan of the hash: a sweep costs what expired, not what is retained (a
// scan would carry every payload from Redis to a node each period). Why every node sweeps and no
// lease: the script is atomic on one slot (both keys share the hash slot of `culex:retained`), so
// two nodes sweeping at once delete each entry once and a message replaced in between is never
// touched; a sweep with nothing due is one command per period, as cheap as renewing a lease, and
// no sweep stops while a lease changes hands.

import { clusterKeys as keys } from './keys.js';
import type { RedisLink } from './redis-link.js';

/** Entries deleted per script run: Redis blocks for one run, so it stays short; a sweep runs it until none is left due. */
const BATCH = 500;

/** KEYS[1] the retained hash, KEYS[2] the expiry set; ARGV[1] now (ms), ARGV[2] batch size. Returns how many went. */
const SWEEP = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then return 0 end
redis.call('HDEL', KEYS[1], unpack(due))
redis.call('ZREM', KEYS[2], unpack(due))
return #due`;

export class RetainedSweep {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** Expired retained messages this node removed from Redis. */
  swept = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly periodMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Deletes every retained message whose expiry time has passed; resolves with how many. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.busy || !this.link.isUp) return 0;
    this.busy = true;
    let removed = 0;
    try {
      for (;;) {
        const count = Number(await this.link.commands.eval(SWEEP, 2, keys.retained, keys.retainedExpiry, String(now), String(BATCH)));
        removed += count;
        if (count < BATCH) break;
      }
    } catch {
      // Redis away: the next period sweeps
    } finally {
      this.busy = false;
      this.swept += removed;
    }
    return removed;
  }
}
