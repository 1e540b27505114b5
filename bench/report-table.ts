import type { BenchReport, CellResult } from './bench-result.js';
import { fmtMs, fmtQps, fmtRatio } from './format.js';

const HEADERS = ['scenario', 'target', 'p50 ms', 'p99 ms', 'q/s', 'p50 vs direct', 'q/s vs direct', 'proxy CPU ms/op', 'client CPU ms/op'];

function row(report: BenchReport, cell: CellResult): string[] {
  const scenario = report.scenarios.find((s) => s.id === cell.scenario)?.title ?? cell.scenario;
  const target = report.targets.find((t) => t.id === cell.target)?.label ?? cell.target;
  if (cell.status !== 'ok') return [scenario, target, cell.status === 'skipped' ? 'skipped' : 'ERROR', cell.note ?? '', '', '', '', '', ''];
  return [
    scenario,
    target,
    fmtMs(cell.p50Ms),
    fmtMs(cell.p99Ms),
    fmtQps(cell.qps),
    fmtRatio(cell.p50VsDirect),
    fmtRatio(cell.qpsVsDirect),
    fmtMs(cell.middleCpuMsPerOp),
    fmtMs(cell.clientCpuMsPerOp),
  ];
}

/**
 * Cells in report order: scenario by scenario, targets in a fixed order inside each. A target
 * skipped as a whole (not installed, runtime too old) gets no rows: the notes say why, once.
 */
function ordered(report: BenchReport): CellResult[] {
  const s = report.scenarios.map((x) => x.id);
  const t = report.targets.map((x) => x.id);
  const whollySkipped = new Set(t.filter((id) => report.cells.filter((c) => c.target === id).every((c) => c.status === 'skipped')));
  return report.cells.filter((c) => !whollySkipped.has(c.target)).sort((a, b) => s.indexOf(a.scenario) - s.indexOf(b.scenario) || t.indexOf(a.target) - t.indexOf(b.target));
}

/** The readable console table: one block per scenario, columns aligned. */
export function consoleTable(report: BenchReport): string {
  const body = ordered(report).map((c) => row(report, c));
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.filter((r) => r[2] !== 'skipped' && r[2] !== 'ERROR').map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(HEADERS)];
  let last = '';
  for (const r of body) {
    if (r[0] !== last && last !== '') out.push('');
    out.push(r[2] === 'skipped' || r[2] === 'ERROR' ? `${(r[0] ?? '').padEnd(widths[0] ?? 0)}  ${(r[1] ?? '').padEnd(widths[1] ?? 0)}  ${r[2]}: ${r[3]}` : line(r));
    last = r[0] ?? '';
  }
  return out.join('\n');
}

/** The same table in Markdown, with the machine, the targets and the notes (for the README). */
export function markdownReport(report: BenchReport): string {
  const m = report.machine;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `Run of ${m.date.slice(0, 10)} (\`npm run bench\`, ${report.mode} mode: ${report.targetWarmupMs / 1000} s of warm-up per target, then ${report.measureMs / 1000} s measured per cell, in ${report.slices} slices interleaved across targets, each after ${report.warmupMs / 1000} s of warm-up), commit \`${m.gitCommit}\`,`,
    `on ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}; Node ${m.node}; ${m.postgres} on the same host (loopback);`,
    `1-minute load average at the start ${m.loadAverage1m}.`,
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...ordered(report).map((c) => {
      const r = row(report, c);
      if (c.status !== 'ok') return `| ${esc(r[0] ?? '')} | ${esc(r[1] ?? '')} | ${r[2]}: ${esc(r[3] ?? '')} | | | | | | |`;
      return `| ${r.map(esc).join(' | ')} |`;
    }),
    '',
    '| issue 7 target | wanted | measured | |',
    '|---|---|---|---|',
    ...report.checks.map((c) => `| ${esc(c.name)} | ${esc(c.target)} | ${esc(c.measured)} | ${c.pass === null ? 'not measured' : c.pass ? 'pass' : '**fail**'} |`),
  ];
  if (report.notes.length > 0) lines.push('', ...report.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}
