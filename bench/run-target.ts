import { Kysely, PostgresDialect } from 'kysely';
import type { BenchDb, BenchSchema } from './bench-schema.js';
import type { CellResult } from './bench-result.js';
import type { BenchTarget } from './bench-target.js';
import { fmtMs, fmtQps } from './format.js';
import { runLoad } from './load-loop.js';
import { measureCell, type CellTiming } from './measure-cell.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

/** Cell timing plus the warm-up a fresh proxy gets before its first cell. */
export type RunTiming = CellTiming & { targetWarmupMs: number };

/** Runs every scenario (or those in `only`) on one target; the tokenized ones last, after tokenization is switched on. */
export async function runTarget(
  target: BenchTarget,
  s: BenchSchema,
  out: { cells: CellResult[]; notes: string[] },
  timing: RunTiming,
  progress: (line: string) => void,
  only: ReadonlySet<string> = new Set(SCENARIOS.map((x) => x.id)),
): Promise<void> {
  const { cells, notes } = out;
  const scenarios = SCENARIOS.filter((x) => only.has(x.id));
  const db = new Kysely<BenchDb>({ dialect: new PostgresDialect({ pool: target.pool }) }).withSchema(s.name);
  const ctx = { targetId: target.id, pool: target.pool, db, schema: s, tokenizedTable: 'signups' };
  // The first requests to a fresh proxy pay for JIT and lazy loading; keep that out of the first cell.
  const first = SCENARIOS[0];
  if (first !== undefined && target.id.startsWith('qspool-')) {
    const warm = await runLoad(first.build(ctx), { concurrency: 4, durationMs: timing.targetWarmupMs, seed: 1, hangMs: 60_000 });
    if (warm.error) progress(`  ${target.label}: warm-up failed: ${warm.error.message}`);
  }
  const measure = async (scenario: Scenario) => {
    const cell = await measureCell(target, scenario, ctx, timing);
    cells.push(cell);
    progress(
      `  ${target.label.padEnd(15)} ${scenario.id.padEnd(19)} ${
        cell.status === 'ok'
          ? `p50 ${fmtMs(cell.p50Ms)} ms  ${fmtQps(cell.qps)} q/s  (${cell.ops} ops${cell.envelopesPerSignature === undefined ? '' : `, ${cell.envelopesPerSignature.toFixed(1)} envelopes per signature`})`
          : `${cell.status.toUpperCase()}: ${cell.note ?? ''}`
      }`,
    );
  };
  // Plain scenarios first, on an integration without tokenization (the issue's targets are about it).
  for (const scenario of scenarios.filter((x) => !x.tokenized)) await measure(scenario);
  const tokenized = scenarios.filter((x) => x.tokenized);
  if (tokenized.length === 0) return;
  let enabled: Awaited<ReturnType<BenchTarget['enableTokenization']>>;
  try {
    enabled = await target.enableTokenization();
  } catch (err) {
    enabled = { table: null, note: `setting up tokenization failed: ${(err as Error).message}` };
    for (const scenario of tokenized) cells.push({ scenario: scenario.id, target: target.id, status: 'error', note: enabled.note });
    return;
  }
  if (enabled.table === null) {
    notes.push(`${target.label}: tokenized scenarios skipped — ${enabled.note}`);
    for (const scenario of tokenized) cells.push({ scenario: scenario.id, target: target.id, status: 'skipped', note: enabled.note });
    return;
  }
  ctx.tokenizedTable = enabled.table;
  for (const scenario of tokenized) await measure(scenario);
}

