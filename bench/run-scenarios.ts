import { Kysely, PostgresDialect } from 'kysely';
import type { BenchDb, BenchSchema } from './bench-schema.js';
import type { CellResult } from './bench-result.js';
import type { BenchTarget } from './bench-target.js';
import { fmtMs, fmtQps } from './format.js';
import { runLoad } from './load-loop.js';
import { cellFromSlices, measureSlice, seedOf, type CellTiming, type Slice } from './measure-cell.js';
import { SCENARIOS, type Scenario, type ScenarioContext, type ScenarioId } from './scenarios.js';

/**
 * Cell timing, plus the warm-up every target gets before its first cell and the length of the
 * continuous run that measures RSS under sustained load (Scenario.sustainedRss).
 */
export type RunTiming = CellTiming & { targetWarmupMs: number; sustainedRssMs: number };

/** The warm-up of each target: scenario and share of RunTiming.targetWarmupMs, in order. */
const WARMUP_PLAN: ReadonlyArray<readonly [id: ScenarioId, share: number]> = [
  ['select-pk-32', 0.4],
  ['select-pk-1', 0.6],
];

/** A started target and what its scenarios run against. */
interface Lane {
  target: BenchTarget;
  ctx: ScenarioContext;
}

/**
 * Runs every scenario (or those in `only`) on every target, interleaved: for each scenario, slice
 * after slice, one slice per target in turn (the order rotating each round), so that all targets
 * of a scenario are measured within the same few seconds rather than minutes apart. On a shared
 * host whose speed drifts (one box here saw direct pg's q/s vary 2x between runs), that keeps a
 * ratio to direct pg about the proxy rather than about when each cell happened to run.
 * Plain scenarios run first; the tokenized ones last, after tokenization is switched on.
 */
export async function runScenarios(
  targets: readonly BenchTarget[],
  s: BenchSchema,
  out: { cells: CellResult[]; notes: string[] },
  timing: RunTiming,
  progress: (line: string) => void,
  only: ReadonlySet<string> = new Set(SCENARIOS.map((x) => x.id)),
): Promise<void> {
  const scenarios = SCENARIOS.filter((x) => only.has(x.id));
  const lanes: Lane[] = targets.map((target) => ({
    target,
    ctx: {
      targetId: target.id,
      pool: target.pool,
      db: new Kysely<BenchDb>({ dialect: new PostgresDialect({ pool: target.pool }) }).withSchema(s.name),
      schema: s,
      tokenizedTable: 'signups',
    },
  }));

  // The first requests pay for lazy loading and JIT compilation, and far longer than one would
  // guess: on a 2-core box a fresh proxy took ~4,000 requests (~10 s) to reach its steady state
  // (p50 at 1 in flight 3.6 ms in its first 2 s, 1.7 ms from the tenth on; the driver's CPU per
  // query fell 4x too). A lone call and a coalesced pipeline run different code, so each target
  // first runs point SELECTs at 32 in flight, then at 1, unmeasured. Every target gets the same.
  const warmups = WARMUP_PLAN.map(([id, share]) => {
    const scenario = SCENARIOS.find((x) => x.id === id);
    if (scenario === undefined) throw new Error(`warm-up scenario ${id} does not exist`);
    return { scenario, share };
  });
  for (const lane of lanes) {
    lane.target.activate?.();
    for (const { scenario, share } of warmups) {
      const durationMs = timing.targetWarmupMs * share;
      const warm = await runLoad(scenario.build(lane.ctx), { concurrency: scenario.concurrency, durationMs, seed: 1, hangMs: 60_000 });
      if (warm.error) progress(`  ${lane.target.label}: warm-up failed: ${warm.error.message}`);
    }
  }

  for (const scenario of scenarios.filter((x) => !x.tokenized)) await interleave(scenario, lanes, out.cells, timing, progress);

  const tokenized = scenarios.filter((x) => x.tokenized);
  if (tokenized.length === 0) return;
  const tokenizedLanes: Lane[] = [];
  for (const lane of lanes) {
    const { target } = lane;
    let enabled: Awaited<ReturnType<BenchTarget['enableTokenization']>>;
    try {
      target.activate?.();
      enabled = await target.enableTokenization();
    } catch (err) {
      const note = `setting up tokenization failed: ${(err as Error).message}`;
      for (const scenario of tokenized) out.cells.push({ scenario: scenario.id, target: target.id, status: 'error', note });
      continue;
    }
    if (enabled.table === null) {
      out.notes.push(`${target.label}: tokenized scenarios skipped — ${enabled.note}`);
      for (const scenario of tokenized) out.cells.push({ scenario: scenario.id, target: target.id, status: 'skipped', note: enabled.note });
      continue;
    }
    lane.ctx.tokenizedTable = enabled.table;
    tokenizedLanes.push(lane);
  }
  for (const scenario of tokenized) await interleave(scenario, tokenizedLanes, out.cells, timing, progress);
}

/** One scenario on every lane: `timing.slices` rounds of one slice per lane, then one cell per lane. */
async function interleave(scenario: Scenario, lanes: readonly Lane[], cells: CellResult[], timing: RunTiming, progress: (line: string) => void): Promise<void> {
  // Built once per lane: an operation may keep state across slices (the INSERTs' counter).
  const ops = lanes.map((lane) => scenario.build(lane.ctx));
  const slices: Slice[][] = lanes.map(() => []);
  const failures: Array<string | undefined> = lanes.map(() => undefined);
  const sliceMs = timing.measureMs / timing.slices;
  for (let round = 0; round < timing.slices; round++) {
    for (let k = 0; k < lanes.length; k++) {
      const i = (k + round) % lanes.length;
      const lane = lanes[i];
      const op = ops[i];
      if (lane === undefined || op === undefined || failures[i] !== undefined) continue;
      try {
        slices[i]?.push(await measureSlice(lane.target, op, scenario.concurrency, sliceMs, timing.warmupMs, seedOf(scenario, round)));
      } catch (err) {
        failures[i] = (err as Error).message;
      }
    }
  }
  const sustainedRss: Array<number | undefined> = [];
  for (const [i, lane] of lanes.entries()) {
    const op = ops[i];
    if (!scenario.sustainedRss || lane.target.middlePid === undefined || op === undefined || failures[i] !== undefined) continue;
    try {
      sustainedRss[i] = (await measureSlice(lane.target, op, scenario.concurrency, timing.sustainedRssMs, timing.warmupMs, seedOf(scenario, timing.slices))).middleRssMaxMb;
    } catch (err) {
      failures[i] = `sustained run: ${(err as Error).message}`;
    }
  }
  for (const [i, lane] of lanes.entries()) {
    const base = { scenario: scenario.id, target: lane.target.id };
    const failure = failures[i];
    const cell: CellResult = failure !== undefined ? { ...base, status: 'error', note: failure } : cellFromSlices(base, slices[i] ?? []);
    const rss = sustainedRss[i];
    if (cell.status === 'ok' && rss !== undefined) cell.middleRssMaxMb = Math.max(cell.middleRssMaxMb ?? 0, rss);
    cells.push(cell);
    progress(
      `  ${lane.target.label.padEnd(15)} ${scenario.id.padEnd(19)} ${
        cell.status === 'ok'
          ? `p50 ${fmtMs(cell.p50Ms)} ms  ${fmtQps(cell.qps)} q/s  (${cell.ops} ops${cell.envelopesPerSignature === undefined ? '' : `, ${cell.envelopesPerSignature.toFixed(1)} envelopes per signature`})`
          : `${cell.status.toUpperCase()}: ${cell.note ?? ''}`
      }`,
    );
  }
}
