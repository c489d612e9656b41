// Named one-shot timers (session expiry, will delay), one per client id, that may be longer than
// setTimeout's limit of 2^31-1 ms (a session may live for 136 years). Unref'd: they never keep
// the process alive on their own.

const MAX_DELAY = 0x7fffffff;

export class Timers {
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; run: () => void }>();

  schedule(key: string, delayMs: number, run: () => void): void {
    this.cancel(key);
    const due = Date.now() + delayMs;
    const arm = (): void => {
      const left = due - Date.now();
      const timer = setTimeout(() => {
        if (left > MAX_DELAY) return arm();
        this.pending.delete(key);
        run();
      }, Math.min(Math.max(left, 0), MAX_DELAY));
      timer.unref();
      this.pending.set(key, { timer, run });
    };
    arm();
  }

  cancel(key: string): boolean {
    const entry = this.pending.get(key);
    if (entry === undefined) return false;
    clearTimeout(entry.timer);
    this.pending.delete(key);
    return true;
  }

  /** Runs the timer's action now, if one is pending. */
  fire(key: string): void {
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    this.cancel(key);
    entry.run();
  }

  clear(): void {
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
  }
}
