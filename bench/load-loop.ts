import { performance } from 'node:perf_hooks';
import { seededRandom } from './seeded-random.js';
import type { Operation } from './scenarios.js';

/** What one duration-bounded run of an operation produced. */
export interface LoadRun {
  /** Operations completed inside the window. */
  ops: number;
  elapsedMs: number;
  /** Per-operation latency, ms. */
  latencies: number[];
  /** The first failure; the run stops at it. */
  error?: Error;
}

/**
 * Runs `op` from `concurrency` workers until `durationMs` have passed (no operation starts after
 * the deadline; those in flight finish and count). Each worker has its own PRNG seeded from
 * `seed` and its index, so the sequence of rows is the same on every run. Stops at the first error;
 * fails if the last operations do not finish within `hangMs` of the deadline.
 */
export async function runLoad(op: Operation, opts: { concurrency: number; durationMs: number; seed: number; hangMs: number }): Promise<LoadRun> {
  const latencies: number[] = [];
  let error: Error | undefined;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  const worker = async (index: number) => {
    const rand = seededRandom(opts.seed * 1000 + index);
    while (error === undefined && performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await op(rand);
      } catch (err) {
        error ??= err instanceof Error ? err : new Error(String(err));
        return;
      }
      latencies.push(performance.now() - t0);
    }
  };
  const workers = Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(i)));
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`operations still running ${opts.hangMs} ms after the deadline`)), opts.durationMs + opts.hangMs);
  });
  try {
    await Promise.race([workers, hang]);
  } finally {
    clearTimeout(timer);
  }
  return { ops: latencies.length, elapsedMs: performance.now() - start, latencies, ...(error ? { error } : {}) };
}
