/** Milliseconds with precision that suits their size ("0.118", "2.41", "38.2"); "–" when absent. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  const size = Math.abs(ms);
  if (size < 1) return ms.toFixed(3);
  if (size < 10) return ms.toFixed(2);
  return ms.toFixed(1);
}

/** Operations per second with thousands separators ("12,480", "41.3"). */
export function fmtQps(qps: number | undefined): string {
  if (qps === undefined || !Number.isFinite(qps)) return '–';
  return qps < 100 ? qps.toFixed(1) : Math.round(qps).toLocaleString('en-US');
}

/** A ratio as "1.00×". */
export function fmtRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '–' : `${r.toFixed(2)}×`;
}
