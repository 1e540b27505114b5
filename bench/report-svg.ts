import type { BenchReport } from './bench-result.js';
import type { TargetId } from './bench-target.js';
import { fmtQps } from './format.js';

const COLORS: Record<TargetId, string> = {
  direct: '#4e79a7',
  pgbouncer: '#59a14f',
  'qspool-noble': '#e15759',
  'qspool-pqclean': '#f28e2b',
  'qspool-pqclean-package': '#edc948',
  'qspool-node': '#b07aa1',
};

/** "12.5k", "840", "38": fits above an 18 px bar. */
const compact = (q: number) => (q >= 1000 ? `${(q / 1000).toFixed(q >= 10_000 ? 0 : 1)}k` : q >= 100 ? q.toFixed(0) : q.toFixed(1));

/** Greedy word wrap to lines of at most `width` characters (a long word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A grouped bar chart of q/s per scenario and target, hand-written SVG (no dependency). The axis
 * is logarithmic: the targets span three orders of magnitude (noble's ~40 q/s to direct's ~10k).
 */
export function barChartSvg(report: BenchReport): string {
  const targets = report.targets.filter((t) => report.cells.some((c) => c.target === t.id && c.status === 'ok'));
  const scenarios = report.scenarios;
  const qpsOf = (s: string, t: string) => report.cells.find((c) => c.scenario === s && c.target === t && c.status === 'ok')?.qps;
  const all = report.cells.map((c) => c.qps).filter((q): q is number => q !== undefined && q > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 10)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...all)));

  const bar = 18;
  const gap = 34;
  const groupW = targets.length * bar + gap;
  const left = 64;
  const top = 70;
  const plotH = 300;
  const width = left + scenarios.length * groupW + 16;
  const height = top + plotH + 62;
  const y = (q: number) => top + plotH - ((Math.log10(q) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="600">Throughput (q/s, log scale) — ${escapeXml(report.machine.cpuModel)}, ${report.machine.cores} cores, Node ${escapeXml(report.machine.node)}</text>`,
  ];
  out.push(
    `<text x="${left}" y="36" fill="#555">higher is better · ${escapeXml(report.machine.postgres.replace(/ \(.*\)$/, ''))} · ${report.machine.date.slice(0, 10)} · commit ${escapeXml(report.machine.gitCommit)} · ${report.mode} run</text>`,
  );
  targets.forEach((t, i) => {
    const x = left + i * 130;
    out.push(`<rect x="${x}" y="46" width="10" height="10" fill="${COLORS[t.id]}"/>`, `<text x="${x + 14}" y="55">${escapeXml(t.label)}</text>`);
  });
  for (let q = lo; q <= hi; q *= 10) {
    out.push(
      `<line x1="${left}" x2="${width - 16}" y1="${y(q)}" y2="${y(q)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(q) + 4}" text-anchor="end">${fmtQps(q)}</text>`,
    );
  }
  scenarios.forEach((s, gi) => {
    const gx = left + gi * groupW + gap / 2;
    targets.forEach((t, ti) => {
      const q = qpsOf(s.id, t.id);
      if (q === undefined || q <= 0) return;
      const x = gx + ti * bar;
      const h = top + plotH - y(q);
      out.push(
        `<rect x="${x}" y="${y(q)}" width="${bar - 2}" height="${h}" fill="${COLORS[t.id]}"><title>${escapeXml(`${s.title} — ${t.label}: ${fmtQps(q)} q/s`)}</title></rect>`,
        `<text x="${x + (bar - 2) / 2}" y="${y(q) - 3}" font-size="8" text-anchor="middle">${compact(q)}</text>`,
      );
    });
    const cx = gx + (targets.length * bar) / 2;
    wrap(s.title, Math.max(12, Math.floor(groupW / 6))).forEach((w, wi) =>
      out.push(`<text x="${cx}" y="${top + plotH + 16 + wi * 13}" font-size="10" text-anchor="middle">${escapeXml(w)}</text>`),
    );
  });
  out.push(`<line x1="${left}" x2="${width - 16}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`, '</svg>');
  return `${out.join('\n')}\n`;
}
