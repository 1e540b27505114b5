import type { BenchReport, CellResult } from './bench-result.js';
import type { TargetId } from './bench-target.js';
import { cellOf } from './compare-direct.js';
import { fmtMs } from './format.js';
import { SCENARIOS } from './scenarios.js';

/** The largest RSS sample of a target's middle process over all its cells, MB. */
export function maxRss(cells: CellResult[], id: TargetId): string {
  const samples = cells.filter((c) => c.target === id && c.middleRssMaxMb !== undefined).map((c) => c.middleRssMaxMb ?? 0);
  return samples.length === 0 ? '?' : Math.max(...samples).toFixed(0);
}

/** "QsPool/pqclean: tokenized INSERT +0.41 ms p50 over the plain INSERT; …" for each QsPool target. */
export function tokenizationNotes(cells: CellResult[], report: BenchReport): string[] {
  const out: string[] = [];
  for (const t of report.targets.filter((x) => x.id.startsWith('qspool-'))) {
    const parts: string[] = [];
    for (const s of SCENARIOS.filter((x) => x.untokenizedTwin !== undefined)) {
      const tok = cellOf(cells, t.id, s.id);
      const plain = s.untokenizedTwin === undefined ? undefined : cellOf(cells, t.id, s.untokenizedTwin);
      if (tok?.p50Ms === undefined || plain?.p50Ms === undefined) continue;
      const delta = tok.p50Ms - plain.p50Ms;
      parts.push(`${s.title} p50 ${fmtMs(tok.p50Ms)} ms vs ${fmtMs(plain.p50Ms)} ms untokenized (${delta >= 0 ? '+' : ''}${fmtMs(delta)} ms)`);
    }
    if (parts.length > 0) out.push(`${t.label} tokenization cost: ${parts.join('; ')}.`);
  }
  return out;
}


/** The notes every report carries: load, tokenization cost, memory, and how to read the columns. */
export function reportNotes(report: BenchReport): string[] {
  const { cells, machine } = report;
  return [
    ...(machine.loadAverage1m > 0.5
      ? [`The 1-minute load average was ${machine.loadAverage1m} when the bench started: other work on this ${machine.cores}-core machine may have skewed the figures.`]
      : []),
    ...(machine.stealShare !== undefined && machine.stealShare >= 0.02
      ? [`The hypervisor took ${(machine.stealShare * 100).toFixed(0)}% of this machine's CPU time for other guests during the run (steal in /proc/stat): expect run-to-run spread.`]
      : []),
    ...busyCells(report),
    ...tokenizationNotes(cells, report),
    ...report.targets
      .filter((t) => t.middleRssIdleMb !== undefined)
      .map(
        (t) =>
          `${t.label}: RSS of the ${t.id === 'pgbouncer' ? 'pgbouncer' : 'proxy (dist/cli/main.js serve)'} process ${t.middleRssIdleMb} MB idle after start, ${maxRss(cells, t.id)} MB at most during the run.`,
      ),
    'Tokenized scenarios: each QsPool target on its own table whose email column is tokenized (deterministic, detokenize on); direct pg and pgbouncer run the same statements on the plain table.',
    `"proxy CPU" is utime+stime of the proxy (or pgbouncer) process from /proc, all threads; "client CPU" is this process: the driver, envelope verification and the load loop. Bench, proxy and PostgreSQL share the same ${machine.cores} cores.`,
    'An op is one statement, except the Kysely transaction (BEGIN, SELECT, UPDATE, INSERT, COMMIT). Every target has 32 connections (QsPool: 32 HTTP sockets); scenarios other than "32 in flight" run 1 op at a time.',
  ];
}

/** Cells during which other processes used a noticeable share of the machine. */
function busyCells(report: BenchReport): string[] {
  const busy = report.cells.filter((c) => (c.foreignCpuCores ?? 0) > 0.2);
  if (busy.length === 0) return [];
  const list = busy.map((c) => `${c.scenario} on ${c.target} (${(c.foreignCpuCores ?? 0).toFixed(2)} cores)`).join(', ');
  return [`Other processes on the machine used CPU during ${busy.length} cell(s), whose figures are skewed: ${list}.`];
}
