// What a simulated sensor measures: a baseline, a slow oscillation, a mean-reverting drift (an
// Ornstein-Uhlenbeck walk, so it wanders without running away) and Gaussian noise. Sensitivity is
// the sensor's gain on everything that departs from the baseline.

export interface SignalKind {
  readonly name: string;
  readonly unit: string;
  readonly baseline: number;
  /** Amplitude and period of the slow oscillation. */
  readonly wave: number;
  readonly periodSeconds: number;
  /** Standard deviation of the drift's stationary distribution, and of the per-reading noise. */
  readonly drift: number;
  readonly noise: number;
  readonly min?: number;
  readonly max?: number;
  readonly decimals: number;
}

export const signalKinds: readonly SignalKind[] = [
  { name: 'temperature', unit: '°C', baseline: 21, wave: 1.5, periodSeconds: 300, drift: 0.8, noise: 0.08, decimals: 2 },
  { name: 'humidity', unit: '%', baseline: 45, wave: 4, periodSeconds: 420, drift: 3, noise: 0.25, min: 0, max: 100, decimals: 1 },
  { name: 'pressure', unit: 'hPa', baseline: 1013, wave: 1.2, periodSeconds: 600, drift: 1.5, noise: 0.1, decimals: 1 },
  { name: 'co2', unit: 'ppm', baseline: 620, wave: 60, periodSeconds: 240, drift: 40, noise: 6, min: 400, decimals: 0 },
  { name: 'light', unit: 'lx', baseline: 320, wave: 80, periodSeconds: 180, drift: 30, noise: 5, min: 0, decimals: 0 },
];

/** Seconds over which the drift forgets its past. */
const DRIFT_MEMORY_SECONDS = 120;

function gaussian(random: () => number): number {
  // Box-Muller; 1 - random() keeps the logarithm's argument in (0, 1].
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export class Signal {
  #drift = 0;
  #lastSeconds: number | undefined;
  readonly #phase: number;

  constructor(
    readonly kind: SignalKind,
    private readonly random: () => number = Math.random,
  ) {
    this.#phase = random() * 2 * Math.PI;
    this.#drift = gaussian(random) * kind.drift * 0.5;
  }

  /** The value read at time `ms` with the given gain. Times must not go backwards. */
  sample(ms: number, sensitivity: number): number {
    const kind = this.kind;
    const seconds = ms / 1000;
    const dt = this.#lastSeconds === undefined ? 0 : Math.max(0, seconds - this.#lastSeconds);
    this.#lastSeconds = seconds;
    // Exact discretisation of the OU process: decay towards 0, plus the variance that keeps it stationary.
    const decay = Math.exp(-dt / DRIFT_MEMORY_SECONDS);
    this.#drift = this.#drift * decay + kind.drift * Math.sqrt(1 - decay * decay) * gaussian(this.random);
    const wave = kind.wave * Math.sin((2 * Math.PI * seconds) / kind.periodSeconds + this.#phase);
    const departure = wave + this.#drift + kind.noise * gaussian(this.random);
    let value = kind.baseline + sensitivity * departure;
    if (kind.min !== undefined) value = Math.max(kind.min, value);
    if (kind.max !== undefined) value = Math.min(kind.max, value);
    const scale = 10 ** kind.decimals;
    return Math.round(value * scale) / scale;
  }
}
