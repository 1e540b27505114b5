import type { CellResult, TargetCheck } from './bench-result.js';
import type { TargetId } from './bench-target.js';
import { cellOf } from './compare-direct.js';
import { fmtMs, fmtQps } from './format.js';

const QS_TARGETS: readonly TargetId[] = ['qspool-pqclean', 'qspool-pqclean-package', 'qspool-noble', 'qspool-node'];

/** The other QsPool targets' values, for context next to the pqclean figure a check is decided on. */
function others(cells: readonly CellResult[], scenario: CellResult['scenario'], show: (c: CellResult) => string): string {
  const parts = QS_TARGETS.slice(1)
    .map((t) => [t, cellOf(cells, t, scenario)] as const)
    .filter((x): x is readonly [TargetId, CellResult] => x[1] !== undefined)
    .map(([t, c]) => `${t.replace('qspool-', '')} ${show(c)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** One target decided on a pqclean figure (and, where it compares, direct pg's figure of the same scenario). */
interface TargetSpec {
  name: string;
  target: string;
  scenario: CellResult['scenario'];
  metric: 'p50Ms' | 'qps' | 'middleRssMaxMb';
  /** Direct pg's value is passed when `vsDirect`; the check is unmeasured if either is missing. */
  vsDirect: boolean;
  judge(qs: number, direct: number): { measured: string; pass: boolean };
}

function decide(cells: readonly CellResult[], spec: TargetSpec): TargetCheck {
  const { name, target } = spec;
  const qs = cellOf(cells, 'qspool-pqclean', spec.scenario)?.[spec.metric];
  const direct = spec.vsDirect ? cellOf(cells, 'direct', spec.scenario)?.[spec.metric] : Number.NaN;
  if (qs === undefined || direct === undefined) return { name, target, measured: 'not measured in this run', pass: null };
  return { name, target, ...spec.judge(qs, direct) };
}

/**
 * The four targets of issue 7, decided on the pqclean backend (the default fast path) from this
 * run's figures. A target that could not be measured is reported as such, never as passed.
 */
export function checkIssueTargets(cells: readonly CellResult[]): TargetCheck[] {
  const specs: TargetSpec[] = [
    {
      name: 'point SELECT, 1 in flight, pqclean',
      target: 'QsPool p50 ≤ direct p50 + 2.0 ms',
      scenario: 'select-pk-1',
      metric: 'p50Ms',
      vsDirect: true,
      judge: (qs, direct) => ({
        measured: `QsPool p50 ${fmtMs(qs)} ms vs direct ${fmtMs(direct)} ms: +${fmtMs(qs - direct)} ms${others(cells, 'select-pk-1', (c) => `${fmtMs(c.p50Ms)} ms`)}`,
        pass: qs - direct <= 2.0,
      }),
    },
    {
      name: 'point SELECT, 32 in flight, pqclean',
      target: 'QsPool ≥ 3,000 q/s and ≥ 20% of direct',
      scenario: 'select-pk-32',
      metric: 'qps',
      vsDirect: true,
      judge: (qs, direct) => ({
        measured: `${fmtQps(qs)} q/s = ${((qs / direct) * 100).toFixed(1)}% of direct's ${fmtQps(direct)} q/s${others(cells, 'select-pk-32', (c) => `${fmtQps(c.qps)} q/s`)}`,
        pass: qs >= 3000 && qs / direct >= 0.2,
      }),
    },
    {
      name: '10,000-row SELECT, pqclean',
      target: 'QsPool time ≤ 2.5 × direct',
      scenario: 'select-10k',
      metric: 'p50Ms',
      vsDirect: true,
      judge: (qs, direct) => ({
        measured: `p50 ${fmtMs(qs)} ms vs direct ${fmtMs(direct)} ms = ${(qs / direct).toFixed(2)}×${others(cells, 'select-10k', (c) => `${((c.p50Ms ?? 0) / direct).toFixed(2)}×`)}`,
        pass: qs / direct <= 2.5,
      }),
    },
    {
      name: 'proxy RSS under 32 in flight, pqclean',
      target: '≤ 250 MB',
      scenario: 'select-pk-32',
      metric: 'middleRssMaxMb',
      vsDirect: false,
      judge: (qs) => ({
        measured: `max ${qs.toFixed(0)} MB${others(cells, 'select-pk-32', (c) => `${c.middleRssMaxMb?.toFixed(0) ?? '?'} MB`)}`,
        pass: qs <= 250,
      }),
    },
  ];
  return specs.map((spec) => decide(cells, spec));
}
