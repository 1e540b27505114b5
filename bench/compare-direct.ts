import type { CellResult } from './bench-result.js';

/** Fills each cell's ratios against direct pg's cell of the same scenario (direct's own are 1). */
export function addDirectRatios(cells: CellResult[]): void {
  for (const cell of cells) {
    if (cell.status !== 'ok') continue;
    const direct = cells.find((c) => c.target === 'direct' && c.scenario === cell.scenario && c.status === 'ok');
    if (direct?.p50Ms === undefined || direct.qps === undefined || cell.p50Ms === undefined || cell.qps === undefined) continue;
    cell.p50VsDirect = cell.p50Ms / direct.p50Ms;
    cell.qpsVsDirect = cell.qps / direct.qps;
  }
}

/** Finds one measured cell. */
export function cellOf(cells: readonly CellResult[], target: CellResult['target'], scenario: CellResult['scenario']): CellResult | undefined {
  return cells.find((c) => c.target === target && c.scenario === scenario && c.status === 'ok');
}
