// How long a bridge waits before connecting again (Mosquitto's restart_timeout): a constant, or
// "Decorrelated Jitter" between the base and three times the last delay, capped (bridge.c,
// bridge__backoff_step), back to the base once a connection succeeds.

export class RestartDelay {
  private current: number;

  constructor(
    private readonly base: number,
    private readonly cap: number | undefined,
    private readonly random: () => number = Math.random,
  ) {
    this.current = base;
  }

  /** Seconds to wait after a failed or lost connection. */
  next(): number {
    if (this.cap === undefined) return this.base;
    const high = Math.max(this.base + 1, this.current * 3);
    this.current = Math.min(this.cap, this.base + Math.floor(this.random() * (high - this.base)));
    return this.current;
  }

  reset(): void {
    this.current = this.base;
  }
}
