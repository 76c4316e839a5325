/**
 * Is memory flat? Memory of a busy process is a sawtooth — it climbs between collections and drops
 * at each — so comparing two readings compares two random points of the saw. What a leak does
 * instead is raise the whole saw: a trend. This fits a least-squares line through the samples of
 * the second half of a run (after warm-up effects have settled) and projects the growth it implies
 * over that half; a plateau is a projected growth within a bound.
 *
 * @module
 */

/** One reading: seconds since the start of the run, and bytes. */
export interface MemorySample {
  t: number
  bytes: number
}

/** What {@link plateau} concludes. */
export interface PlateauVerdict {
  /** Whether the second half is flat within the bound. */
  ok: boolean
  /** Slope of the fitted line over the second half, bytes per second. */
  slope: number
  /** Growth the slope implies over the second half, bytes. */
  growth: number
  /** The bound on `growth`: `max(floorBytes, fraction × median)`. */
  limit: number
  /** Median of the second half, bytes. */
  median: number
  /** Samples in the second half. */
  n: number
}

/** Bounds of {@link plateau}. */
export interface PlateauOptions {
  /** Growth always tolerated over the second half, bytes. */
  floorBytes: number
  /** Growth tolerated as a share of the second half's median. */
  fraction: number
  /** Fewest samples in the second half to conclude anything. Default 4. */
  minSamples?: number
}

/**
 * Fits the trend of the second half of `samples` and compares the growth it implies to the bound.
 *
 * @example
 * ```ts
 * plateau(samples, { floorBytes: 8 * 2 ** 20, fraction: 0.1 }).ok
 * ```
 */
export function plateau(samples: readonly MemorySample[], options: PlateauOptions): PlateauVerdict {
  if (samples.length === 0) throw new Error('no samples')
  const start = (samples[0] as MemorySample).t
  const end = (samples[samples.length - 1] as MemorySample).t
  const middle = start + (end - start) / 2
  const half = samples.filter((s) => s.t >= middle)
  if (half.length < (options.minSamples ?? 4)) throw new Error(`too few samples in the second half (${half.length}): run longer or sample more often`)
  const n = half.length
  const meanT = half.reduce((a, s) => a + s.t, 0) / n
  const meanB = half.reduce((a, s) => a + s.bytes, 0) / n
  let num = 0
  let den = 0
  for (const s of half) {
    num += (s.t - meanT) * (s.bytes - meanB)
    den += (s.t - meanT) ** 2
  }
  const slope = den === 0 ? 0 : num / den
  const span = (half[n - 1] as MemorySample).t - (half[0] as MemorySample).t
  const growth = slope * span
  const sorted = half.map((s) => s.bytes).sort((a, b) => a - b)
  const median = sorted[Math.floor(n / 2)] as number
  const limit = Math.max(options.floorBytes, options.fraction * median)
  return { ok: growth <= limit, slope, growth, limit, median, n }
}
