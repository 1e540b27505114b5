import type { CellResult, TargetCheck } from './bench-result.js';
import type { TargetId } from './bench-target.js';
import { cellOf } from './compare-direct.js';
import { fmtMs, fmtQps } from './format.js';

const QS_TARGETS: readonly TargetId[] = ['qspool-pqclean', 'qspool-noble', 'qspool-node'];

/** The other QsPool targets' values, for context next to the pqclean figure a check is decided on. */
function others(cells: readonly CellResult[], scenario: CellResult['scenario'], show: (c: CellResult) => string): string {
  const parts = QS_TARGETS.slice(1)
    .map((t) => [t, cellOf(cells, t, scenario)] as const)
    .filter((x): x is readonly [TargetId, CellResult] => x[1] !== undefined)
    .map(([t, c]) => `${t.replace('qspool-', '')} ${show(c)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/**
 * The four targets of issue 7, decided on the pqclean backend (the default fast path) from this
 * run's figures. A target that could not be measured is reported as such, never as passed.
 */
export function checkIssueTargets(cells: readonly CellResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const unmeasured = (name: string, target: string): TargetCheck => ({ name, target, measured: 'not measured in this run', pass: null });

  {
    const name = 'point SELECT, 1 in flight, pqclean';
    const target = 'QsPool p50 ≤ direct p50 + 2.0 ms';
    const qs = cellOf(cells, 'qspool-pqclean', 'select-pk-1');
    const direct = cellOf(cells, 'direct', 'select-pk-1');
    if (qs?.p50Ms === undefined || direct?.p50Ms === undefined) checks.push(unmeasured(name, target));
    else {
      const delta = qs.p50Ms - direct.p50Ms;
      checks.push({
        name,
        target,
        measured: `QsPool p50 ${fmtMs(qs.p50Ms)} ms vs direct ${fmtMs(direct.p50Ms)} ms: +${fmtMs(delta)} ms${others(cells, 'select-pk-1', (c) => `${fmtMs(c.p50Ms)} ms`)}`,
        pass: delta <= 2.0,
      });
    }
  }
  {
    const name = 'point SELECT, 32 in flight, pqclean';
    const target = 'QsPool ≥ 3,000 q/s and ≥ 20% of direct';
    const qs = cellOf(cells, 'qspool-pqclean', 'select-pk-32');
    const direct = cellOf(cells, 'direct', 'select-pk-32');
    if (qs?.qps === undefined || direct?.qps === undefined) checks.push(unmeasured(name, target));
    else {
      const share = qs.qps / direct.qps;
      checks.push({
        name,
        target,
        measured: `${fmtQps(qs.qps)} q/s = ${(share * 100).toFixed(1)}% of direct's ${fmtQps(direct.qps)} q/s${others(cells, 'select-pk-32', (c) => `${fmtQps(c.qps)} q/s`)}`,
        pass: qs.qps >= 3000 && share >= 0.2,
      });
    }
  }
  {
    const name = '10,000-row SELECT, pqclean';
    const target = 'QsPool time ≤ 2.5 × direct';
    const qs = cellOf(cells, 'qspool-pqclean', 'select-10k');
    const direct = cellOf(cells, 'direct', 'select-10k');
    if (qs?.p50Ms === undefined || direct?.p50Ms === undefined) checks.push(unmeasured(name, target));
    else {
      const directP50 = direct.p50Ms;
      const ratio = qs.p50Ms / directP50;
      checks.push({
        name,
        target,
        measured: `p50 ${fmtMs(qs.p50Ms)} ms vs direct ${fmtMs(directP50)} ms = ${ratio.toFixed(2)}×${others(cells, 'select-10k', (c) => `${((c.p50Ms ?? 0) / directP50).toFixed(2)}×`)}`,
        pass: ratio <= 2.5,
      });
    }
  }
  {
    const name = 'proxy RSS under 32 in flight, pqclean';
    const target = '≤ 250 MB';
    const qs = cellOf(cells, 'qspool-pqclean', 'select-pk-32');
    if (qs?.middleRssMaxMb === undefined) checks.push(unmeasured(name, target));
    else {
      checks.push({
        name,
        target,
        measured: `max ${qs.middleRssMaxMb.toFixed(0)} MB${others(cells, 'select-pk-32', (c) => `${c.middleRssMaxMb?.toFixed(0) ?? '?'} MB`)}`,
        pass: qs.middleRssMaxMb <= 250,
      });
    }
  }
  return checks;
}
