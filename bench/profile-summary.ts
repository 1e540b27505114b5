import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a sampled frame lives: `pqclean`, `src/server/policy/sql-parse.ts`, `(gc)`, `node:internal/…`. */
function areaOf(url: string, name: string): string {
  if (url === '') return `(${name || 'native'})`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.startsWith('node:') ? url.split('/').slice(0, 2).join('/') : url;
}

/**
 * Self time of every `.cpuprofile` in `dir` (the proxy's main thread and its workers), grouped by
 * package or source file and by function: where the proxy's CPU went during the whole run.
 */
export function summarizeProfiles(dir: string, top = 12): string {
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  let files = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    files++;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      const frame = nodes.get(id)?.callFrame;
      if (frame === undefined || frame.functionName === '(idle)' || frame.functionName === '(program)') return;
      total += us;
      const area = areaOf(frame.url, frame.functionName);
      byArea.set(area, (byArea.get(area) ?? 0) + us);
      const fn = `${frame.functionName || '(anonymous)'} ${area}:${frame.lineNumber + 1}`;
      byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    });
  }
  if (files === 0) return `no .cpuprofile in ${dir} (did the proxy exit cleanly?)`;
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `    ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  return [`  ${files} profile(s), ${(total / 1000).toFixed(0)} ms of busy samples (idle and "(program)" left out)`, '  by package / source file:', ...list(byArea), '  by function:', ...list(byFn)].join('\n');
}
