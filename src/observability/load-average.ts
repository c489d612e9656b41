// Mosquitto's $SYS/broker/load/... figures (src/sys_tree.c, calc_load): an exponentially smoothed
// per-minute rate of a counter, like the Unix load average. Each update takes the rate since the
// previous one, r = Δcount · 60 / Δt, and moves the average toward it:
//   value = e^(−Δt/window) · value + (1 − e^(−Δt/window)) · r

export class LoadAverage {
  /** The smoothed rate, per minute. */
  value = 0;
  readonly label: string;
  private lastCount: number | undefined;
  private lastTime = 0;
  private published = false;

  /** windowSeconds: 60, 300 or 900 for the 1min, 5min and 15min figures. */
  constructor(private readonly windowSeconds: number) {
    this.label = `${windowSeconds / 60}min`;
  }

  /** Takes the counter's current value; true when the average should be published (first time, or moved by 0.01 or more). */
  sample(count: number, now: number): boolean {
    if (this.lastCount === undefined) {
      this.lastCount = count;
      this.lastTime = now;
      this.published = true;
      return true;
    }
    const elapsed = (now - this.lastTime) / 1000;
    if (elapsed <= 0) return false;
    const rate = ((count - this.lastCount) * 60) / elapsed;
    const exponent = Math.exp(-elapsed / this.windowSeconds);
    const next = exponent * this.value + (1 - exponent) * rate;
    const moved = !this.published || Math.abs(next - this.value) >= 0.01;
    this.value = next;
    this.lastCount = count;
    this.lastTime = now;
    return moved;
  }
}
