import { summarize } from './latency-stats.js';
import { runLoad, type LoadRun } from './load-loop.js';
import { foreignCpuMeter, processCpuMs, sampleRss } from './proc-stats.js';
import type { BenchTarget } from './bench-target.js';
import type { CellResult } from './bench-result.js';
import type { Operation, Scenario } from './scenarios.js';

/**
 * How a cell is measured: `slices` times, each slice warmed up for `warmupMs` and then measured for
 * `measureMs / slices`. The bench runs one slice of every target in turn (bench/run-scenarios.ts),
 * so a ratio compares targets measured under the same host conditions.
 */
export interface CellTiming {
  warmupMs: number;
  measureMs: number;
  slices: number;
}

/** A fixed seed per scenario and slice, so every target sees the same sequence of rows. */
export const seedOf = (scenario: Scenario, slice: number) => [...scenario.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) + slice * 101;

/** What one slice measured, as sums, so that slices add up to a cell. */
export interface Slice {
  latencies: number[];
  ops: number;
  elapsedMs: number;
  middleCpuMs?: number;
  clientCpuMs: number;
  middleRssMaxMb?: number;
  envelopes?: number;
  signatures?: number;
  foreignCpuMs?: number;
}

/**
 * Warms `op` up on a target, then measures one slice: latencies, throughput, CPU of the process in
 * the middle (from /proc, all threads) and of this process, the middle's peak RSS. Throws what
 * the operation threw.
 */
export async function measureSlice(target: BenchTarget, op: Operation, concurrency: number, durationMs: number, warmupMs: number, seed: number): Promise<Slice> {
  const hangMs = 60_000;
  target.activate?.();
  const warm = await runLoad(op, { concurrency, durationMs: warmupMs, seed: seed + 1, hangMs });
  if (warm.error) throw new Error(`warm-up: ${warm.error.message}`);

  const pid = target.middlePid;
  const cpu0 = pid === undefined ? undefined : processCpuMs(pid);
  const rss = pid === undefined ? undefined : sampleRss(pid);
  const foreign = foreignCpuMeter(pid);
  const signed0 = await target.signerCounts?.();
  const client0 = process.cpuUsage();
  let run: LoadRun;
  let rssMax: number | undefined;
  try {
    run = await runLoad(op, { concurrency, durationMs, seed, hangMs });
  } finally {
    rssMax = rss?.stop();
  }
  const client = process.cpuUsage(client0);
  const cpu1 = pid === undefined ? undefined : processCpuMs(pid);
  const foreignMs = foreign.stop();
  const signed1 = await target.signerCounts?.();
  if (run.error) throw run.error;
  return {
    latencies: run.latencies,
    ops: run.ops,
    elapsedMs: run.elapsedMs,
    ...(cpu0 !== undefined && cpu1 !== undefined ? { middleCpuMs: cpu1 - cpu0 } : {}),
    clientCpuMs: (client.user + client.system) / 1000,
    ...(rssMax !== undefined ? { middleRssMaxMb: rssMax } : {}),
    ...(signed0 && signed1 ? { envelopes: signed1.envelopes - signed0.envelopes, signatures: signed1.signatures - signed0.signatures } : {}),
    ...(foreignMs !== undefined ? { foreignCpuMs: foreignMs } : {}),
  };
}

const sum = (slices: readonly Slice[], pick: (s: Slice) => number | undefined): number | undefined =>
  slices.every((s) => pick(s) !== undefined) ? slices.reduce((n, s) => n + (pick(s) ?? 0), 0) : undefined;

/** One cell from its slices: latencies pooled, rates over the summed measured time, RSS the largest seen. */
export function cellFromSlices(base: Pick<CellResult, 'scenario' | 'target'>, slices: readonly Slice[]): CellResult {
  const ops = slices.reduce((n, s) => n + s.ops, 0);
  if (ops === 0) return { ...base, status: 'error', note: 'no operation completed' };
  const elapsedMs = slices.reduce((n, s) => n + s.elapsedMs, 0);
  const middleCpuMs = sum(slices, (s) => s.middleCpuMs);
  const rss = slices.map((s) => s.middleRssMaxMb).filter((v): v is number => v !== undefined);
  const envelopes = sum(slices, (s) => s.envelopes);
  const signatures = sum(slices, (s) => s.signatures);
  const foreignMs = sum(slices, (s) => s.foreignCpuMs);
  return {
    ...base,
    status: 'ok',
    ops,
    durationMs: elapsedMs,
    ...summarize(slices.flatMap((s) => s.latencies)),
    qps: (ops * 1000) / elapsedMs,
    ...(middleCpuMs !== undefined ? { middleCpuMsPerOp: middleCpuMs / ops } : {}),
    clientCpuMsPerOp: slices.reduce((n, s) => n + s.clientCpuMs, 0) / ops,
    ...(rss.length > 0 ? { middleRssMaxMb: Math.max(...rss) } : {}),
    ...(envelopes !== undefined && signatures !== undefined && signatures > 0 ? { envelopesPerSignature: envelopes / signatures } : {}),
    ...(foreignMs !== undefined ? { foreignCpuCores: foreignMs / elapsedMs } : {}),
  };
}
