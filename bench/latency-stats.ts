/** Summary of one measured cell's latencies. */
export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** Nearest-rank percentile of an ascending-sorted array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** p50, p99 and mean of raw latencies (ms); sorts a copy. */
export function summarize(latencies: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), meanMs: sorted.length === 0 ? Number.NaN : sum / sorted.length };
}
