import type { ScenarioId } from './scenarios.js';
import type { TargetId } from './bench-target.js';

/** One scenario on one target. Ratios are against direct pg on the same scenario. */
export interface CellResult {
  scenario: ScenarioId;
  target: TargetId;
  status: 'ok' | 'skipped' | 'error';
  /** Why it was skipped, or what failed. */
  note?: string;
  /** Operations measured (after warm-up). */
  ops?: number;
  durationMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  meanMs?: number;
  /** Operations per second over the measured window. */
  qps?: number;
  /** p50 / direct pg's p50 (1.0 = as fast; higher is slower). */
  p50VsDirect?: number;
  /** q/s / direct pg's q/s (1.0 = as fast; lower is slower). */
  qpsVsDirect?: number;
  /** CPU of the process in the middle (proxy or pgbouncer) per operation, ms. */
  middleCpuMsPerOp?: number;
  /** CPU of the bench process (the driver and its load loop) per operation, ms. */
  clientCpuMsPerOp?: number;
  /** A QsPool's proxy: envelopes per ML-DSA-65 signature in the measured window (the average batch). */
  envelopesPerSignature?: number;
  /**
   * Largest RSS of the process in the middle while the cell was measured, MB; for a scenario with
   * `sustainedRss` (32 in flight), also during a continuous run after its slices.
   */
  middleRssMaxMb?: number;
  /**
   * CPU used meanwhile by everything else on the machine (not this process, the middle or
   * PostgreSQL), in cores: above ~0.2 on a 2-core box, someone else's work skewed the cell.
   */
  foreignCpuCores?: number;
}

/** One of the targets, as measured. `pass` is null when it could not be measured. */
export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  pass: boolean | null;
}

/** Where and when the bench ran. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  postgres: string;
  date: string;
  gitCommit: string;
  /** 1-minute load average when the bench started: other work on the box skews every figure. */
  loadAverage1m: number;
  /** Share of CPU time the hypervisor took for other guests during the run (/proc/stat steal). */
  stealShare?: number;
}

/** Everything `bench/results/latest.json` holds. */
export interface BenchReport {
  mode: 'full' | 'quick';
  /** Unmeasured load each target ran first (point SELECTs at 32 in flight, then at 1), ms. */
  targetWarmupMs: number;
  /** Measured time per cell, split into `slices` slices, each after `warmupMs` of warm-up. */
  measureMs: number;
  warmupMs: number;
  slices: number;
  machine: MachineInfo;
  /** `middleRssIdleMb`: RSS of the proxy / pgbouncer just after it started and a tenant was made. */
  targets: Array<{ id: TargetId; label: string; detail?: string; note?: string; middleRssIdleMb?: number }>;
  scenarios: Array<{ id: ScenarioId; title: string; concurrency: number; untokenizedTwin?: ScenarioId }>;
  cells: CellResult[];
  checks: TargetCheck[];
  notes: string[];
}
