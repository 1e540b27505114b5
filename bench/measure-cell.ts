import { summarize } from './latency-stats.js';
import { runLoad, type LoadRun } from './load-loop.js';
import { foreignCpuMeter, processCpuMs, sampleRss } from './proc-stats.js';
import type { BenchTarget } from './bench-target.js';
import type { CellResult } from './bench-result.js';
import type { Scenario, ScenarioContext } from './scenarios.js';

/** How long each cell warms up and is measured. */
export interface CellTiming {
  warmupMs: number;
  measureMs: number;
}

/** A fixed seed per scenario, so every target sees the same sequence of rows. */
const seedOf = (scenario: Scenario) => [...scenario.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);

/**
 * Warms a scenario up on a target, then measures it: latencies, throughput, CPU of the process in
 * the middle (from /proc, all threads) and of this process, and the middle's peak RSS.
 */
export async function measureCell(target: BenchTarget, scenario: Scenario, ctx: ScenarioContext, timing: CellTiming): Promise<CellResult> {
  const base = { scenario: scenario.id, target: target.id };
  const op = scenario.build(ctx);
  const hangMs = 60_000;
  const warm = await runLoad(op, { concurrency: scenario.concurrency, durationMs: timing.warmupMs, seed: seedOf(scenario) + 1, hangMs });
  if (warm.error) return { ...base, status: 'error', note: `warm-up: ${warm.error.message}` };

  const pid = target.middlePid;
  const cpu0 = pid === undefined ? undefined : processCpuMs(pid);
  const rss = pid === undefined ? undefined : sampleRss(pid);
  const foreign = foreignCpuMeter(pid);
  const signed0 = await target.signerCounts?.();
  const client0 = process.cpuUsage();
  let run: LoadRun;
  let rssMax: number | undefined;
  try {
    run = await runLoad(op, { concurrency: scenario.concurrency, durationMs: timing.measureMs, seed: seedOf(scenario), hangMs });
  } finally {
    rssMax = rss?.stop();
  }
  const client = process.cpuUsage(client0);
  const cpu1 = pid === undefined ? undefined : processCpuMs(pid);
  const foreignMs = foreign.stop();
  const signed1 = await target.signerCounts?.();
  const signatures = signed0 && signed1 ? signed1.signatures - signed0.signatures : 0;
  if (run.error) return { ...base, status: 'error', note: run.error.message };
  if (run.ops === 0) return { ...base, status: 'error', note: 'no operation completed' };

  const stats = summarize(run.latencies);
  return {
    ...base,
    status: 'ok',
    ops: run.ops,
    durationMs: run.elapsedMs,
    ...stats,
    qps: (run.ops * 1000) / run.elapsedMs,
    ...(cpu0 !== undefined && cpu1 !== undefined ? { middleCpuMsPerOp: (cpu1 - cpu0) / run.ops } : {}),
    clientCpuMsPerOp: (client.user + client.system) / 1000 / run.ops,
    ...(rssMax !== undefined ? { middleRssMaxMb: rssMax } : {}),
    ...(signed0 && signed1 && signatures > 0 ? { envelopesPerSignature: (signed1.envelopes - signed0.envelopes) / signatures } : {}),
    ...(foreignMs !== undefined ? { foreignCpuCores: foreignMs / run.elapsedMs } : {}),
  };
}
