// A fixed-size log-linear latency histogram in nanoseconds: exact below 128 ns, then 64 buckets per
// power of two (every bucket at most 1/64 ≈ 1.6 % wide). Recording is an index computation and an
// increment, so a subscriber thread can record every delivery; histograms from several threads are
// merged by adding their counts.

const SUB_BITS = 6;
const SUB_COUNT = 1 << SUB_BITS; // 64 buckets per power of two
const EXACT = SUB_COUNT * 2; // values below 128 ns have a bucket each
/** Largest exponent kept: 2^41 ns ≈ 37 minutes; anything longer lands in the last bucket. */
const MAX_EXPONENT = 41;
export const HISTOGRAM_BUCKETS = EXACT + (MAX_EXPONENT - SUB_BITS) * SUB_COUNT;

function bucketOf(ns: number): number {
  if (ns < EXACT) return ns < 0 ? 0 : Math.floor(ns);
  const exponent = ns < 2 ** 32 ? 31 - Math.clz32(ns) : Math.floor(Math.log2(ns));
  if (exponent > MAX_EXPONENT) return HISTOGRAM_BUCKETS - 1;
  const mantissa = Math.floor(ns / 2 ** (exponent - SUB_BITS)); // in [64, 127]
  return EXACT + (exponent - SUB_BITS - 1) * SUB_COUNT + (mantissa - SUB_COUNT);
}

/** The largest value a bucket holds (reporting the upper bound never understates a percentile). */
function bucketUpperBound(index: number): number {
  if (index < EXACT) return index;
  const offset = index - EXACT;
  const exponent = Math.floor(offset / SUB_COUNT) + SUB_BITS + 1;
  const mantissa = (offset % SUB_COUNT) + SUB_COUNT;
  return (mantissa + 1) * 2 ** (exponent - SUB_BITS) - 1;
}

export class LatencyHistogram {
  readonly counts: Float64Array;
  count = 0;
  maxNs = 0;
  minNs = Number.POSITIVE_INFINITY;

  constructor(counts: Float64Array = new Float64Array(HISTOGRAM_BUCKETS)) {
    this.counts = counts;
  }

  record(ns: number): void {
    this.counts[bucketOf(ns)]!++;
    this.count++;
    if (ns > this.maxNs) this.maxNs = ns;
    if (ns < this.minNs) this.minNs = ns;
  }

  /** Adds another histogram's counts (from another thread) to this one. */
  merge(other: HistogramSnapshot): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    if (other.count > 0) {
      if (other.maxNs > this.maxNs) this.maxNs = other.maxNs;
      if (other.minNs < this.minNs) this.minNs = other.minNs;
    }
  }

  /** The value at quantile q (0..1): the upper bound of the bucket holding that rank, capped at the max. */
  quantileNs(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketUpperBound(i), this.maxNs);
    }
    return this.maxNs;
  }

  snapshot(): HistogramSnapshot {
    return { counts: this.counts, count: this.count, maxNs: this.maxNs, minNs: this.minNs };
  }
}

/** What a worker posts back: structured-clonable. */
export interface HistogramSnapshot {
  readonly counts: Float64Array;
  readonly count: number;
  readonly maxNs: number;
  readonly minNs: number;
}
