import type pg from 'pg';

/** Every target the bench knows, in report order; `direct` is the baseline of every ratio. */
export const TARGET_IDS = ['direct', 'pgbouncer', 'qspool-noble', 'qspool-pqclean', 'qspool-pqclean-package', 'qspool-node'] as const;
export type TargetId = (typeof TARGET_IDS)[number];

/**
 * What a plain `npm run bench` runs: all but `qspool-pqclean-package` (the pqclean package's own
 * build instead of quantaseal's optimized one; `--targets` asks for it, to measure the difference).
 */
export const DEFAULT_TARGET_IDS: readonly TargetId[] = TARGET_IDS.filter((t) => t !== 'qspool-pqclean-package');

/** One way of reaching the database, set up and ready for load. */
export interface BenchTarget {
  id: TargetId;
  /** Short label for tables and the chart. */
  label: string;
  /** What it is exactly (versions, crypto backend detail, pool sizes). */
  detail: string;
  /** A pg.Pool or a QsPool (which is one), sized for the 32-in-flight scenario. */
  pool: pg.Pool;
  /** The process in the middle (proxy or pgbouncer) whose CPU and RSS are charged to the target. */
  middlePid?: number;
  /**
   * Makes the tokenized scenarios possible and returns the table they use: the target's own
   * tokenized table for a QsPool, the plain `signups` table elsewhere. Null (with the reason) when
   * tokenization is unavailable.
   */
  enableTokenization(): Promise<{ table: string } | { table: null; note: string }>;
  /** A QsPool's proxy: envelopes and ML-DSA-65 signatures so far (from /metrics). */
  signerCounts?(): Promise<{ envelopes: number; signatures: number }>;
  /**
   * Called before each run of load on this target. A QsPool verifies with the process-wide crypto
   * backend, and all targets live in this one process: this makes it the target's own.
   */
  activate?(): void;
  /** Ends the pool and stops the process in the middle. */
  close(): Promise<void>;
}

/** A target that cannot run on this machine, and why. */
export interface SkippedTarget {
  id: TargetId;
  label: string;
  note: string;
}

/** Pool sizing shared by every target, so the 32-in-flight scenario has 32 connections everywhere. */
export const POOL_MAX = 32;
/** Upper bound per statement: a hung target fails its cell instead of hanging the bench. */
export const QUERY_TIMEOUT_MS = 30_000;
