/**
 * Where ML-DSA-65 signing (and ML-KEM-768 encapsulation) runs: a piscina worker pool so a slow
 * signature (noble: 5–18 ms) never stalls the event loop (DESIGN §8), or inline on this thread
 * (`workers: 0`, unit tests, or when the worker cannot load — then said so through `onFallback`).
 */
import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Piscina } from 'piscina';
import type { CryptoBackend, KemEncapsulation } from '../../crypto/backend.js';
import type { BackendChoice } from '../../crypto/select-backend.js';
import { envInteger } from '../config.js';
import { workerLocation } from '../worker-location.js';
import type { SignTask, SignTaskResult } from './sign-worker.js';

export interface SignPool {
  /** "workers" when tasks run on piscina threads, "inline" when on the calling thread. */
  readonly mode: 'inline' | 'workers';
  /** Signatures that can run at the same time (worker threads; 1 inline). */
  readonly threads: number;
  /** Set when workers were asked for but the pool runs inline: why. */
  readonly fallbackReason: string | undefined;
  /** ML-DSA-65 signature (empty context, as the envelope format signs) by the key with this seed. */
  sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** ML-KEM-768 encapsulation to `publicKey`. */
  encapsulate(publicKey: Uint8Array): Promise<KemEncapsulation>;
  /** Stops the worker threads (waits for running tasks); inline: nothing to do. */
  destroy(): Promise<void>;
}

export interface SignPoolOptions {
  /** The backend of this thread; workers load the same one by its exact build (`backend.build`). */
  backend: CryptoBackend;
  /** Worker threads; 0 signs inline. Default: defaultSigningWorkers(). */
  workers?: number;
  /**
   * The choice workers pass to setCryptoBackend. Default: `backend.build`; the worker must then
   * report that same name and build, or signing stays inline.
   */
  backendChoice?: BackendChoice;
  /** Told why the pool runs inline although workers were asked for. Default: a process warning. */
  onFallback?: (reason: string) => void;
  /** How long the first worker may take to load and self-test its backend. */
  startTimeoutMs?: number;
  /** @internal another worker module (tests of the fallback). */
  workerFile?: URL;
}

/**
 * A signature faster than this costs less on the event loop than the hop to a worker and back:
 * on the 2-core box, pqclean-native (~0.5 ms) signing inline served ~10% more point SELECTs per
 * second than through one worker (npm run bench, QS_SIGNING_WORKERS=0 vs 1), while noble (5–18 ms)
 * must leave the loop.
 */
export const INLINE_SIGN_BELOW_MS = 2;

/**
 * `QS_SIGNING_WORKERS` when set (0 = inline); else inline when the backend's measured signing
 * time (from the start-up self-test) is under INLINE_SIGN_BELOW_MS; else one core left to the
 * event loop, 1–2 threads: on the 2-core box a second signing thread only competes with the loop
 * once batching has made signatures rare (bench/batch-signing-measure.ts: 1 thread seals more
 * per second than 2).
 */
export function defaultSigningWorkers(env: NodeJS.ProcessEnv = process.env, measuredSignMs?: number): number {
  const configured = envInteger(env, 'QS_SIGNING_WORKERS', { min: 0, max: 64 });
  if (configured !== undefined) return configured;
  if (measuredSignMs !== undefined && measuredSignMs < INLINE_SIGN_BELOW_MS) return 0;
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

/**
 * The worker module next to this one: `.js` in dist after tsc; `.ts` when this file itself runs
 * from source (vitest, tsx), in which case the worker thread needs tsx's loader to import it.
 */
/** Signs on the calling thread. */
export function inlineSignPool(backend: CryptoBackend, fallbackReason?: string): SignPool {
  return {
    mode: 'inline',
    threads: 1,
    fallbackReason,
    sign: async (seed, message) => {
      const signature = backend.dsaSign(seed, message);
      // The signature blocked the loop; stay "in flight" for one more turn so the requests that
      // became ready meanwhile reach the signer's queue and share the next batch (DESIGN §8).
      await nextTurn();
      return signature;
    },
    encapsulate: async (publicKey) => backend.kemEncapsulate(publicKey),
    destroy: async () => {},
  };
}

/**
 * A pool of `workers` threads running the same backend as `backend`, or an inline pool when
 * `workers` is 0 or the workers cannot start (the reason goes to `onFallback`).
 */
export async function createSignPool(opts: SignPoolOptions): Promise<SignPool> {
  const workers = opts.workers ?? defaultSigningWorkers();
  if (workers === 0) return inlineSignPool(opts.backend);
  const fallback = (reason: string): SignPool => {
    (opts.onFallback ?? ((r: string) => process.emitWarning(r, { code: 'QS_SIGNING_INLINE' })))(reason);
    return inlineSignPool(opts.backend, reason);
  };
  // The exact build, so that a worker never signs with another implementation than the one the
  // start-up self-test checked.
  const choice = opts.backendChoice ?? opts.backend.build;

  const { filename, execArgv } = workerLocation(import.meta.url, 'sign-worker', opts.workerFile);
  let piscina: Piscina<SignTask, SignTaskResult>;
  try {
    piscina = new Piscina<SignTask, SignTaskResult>({ filename, execArgv, minThreads: workers, maxThreads: workers, idleTimeout: Number.POSITIVE_INFINITY });
  } catch (err) {
    return fallback(`signing inline: the worker pool did not start (${(err as Error).message})`);
  }
  try {
    const probe = await withTimeout(piscina.run({ op: 'probe', choice }), opts.startTimeoutMs ?? 30_000);
    const loaded = probe.op === 'probe' ? `${probe.backend} (${probe.build})` : '?';
    if (probe.op !== 'probe' || probe.backend !== opts.backend.name || probe.build !== opts.backend.build) {
      throw new Error(`the worker loaded ${loaded}, not ${opts.backend.name} (${opts.backend.build})`);
    }
  } catch (err) {
    await piscina.destroy().catch(() => {});
    return fallback(`signing inline: the signing worker did not load (${(err as Error).message})`);
  }

  const run = (task: SignTask) => piscina.run(task);
  return {
    mode: 'workers',
    threads: workers,
    fallbackReason: undefined,
    sign: async (seed, message) => {
      const r = await run({ op: 'sign', choice, seed, message });
      if (r.op !== 'sign') throw new Error('signing worker answered the wrong task');
      return r.signature;
    },
    encapsulate: async (publicKey) => {
      const r = await run({ op: 'encapsulate', choice, publicKey });
      if (r.op !== 'encapsulate') throw new Error('signing worker answered the wrong task');
      return { cipherText: r.cipherText, sharedSecret: r.sharedSecret };
    },
    destroy: () => piscina.close(),
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
