/**
 * Opportunistic batch signing (DESIGN §8). Each response is prepared at once (KEM, AEAD, HMAC);
 * only the ML-DSA-65 signature is shared. When no signature is in flight, a response is signed
 * alone, immediately, in the single format — no added latency when idle. While signatures are in
 * flight, responses queue; the next free slot takes the whole queue (up to `maxBatch`), signs one
 * Merkle root over it and hands every envelope its inclusion proof. Loaded: one signature per batch.
 */
import { getCryptoBackend } from '../../crypto/select-backend.js';
import type { CryptoBackend } from '../../crypto/backend.js';
import {
  prepareEnvelope,
  type HybridCryptoEnvelope,
  type PrepareDependencies,
  type PreparedEnvelope,
  type SealDependencies,
  type SealEnvelopeInput,
} from '../../protocol/envelope.js';
import { planBatchSignature } from '../../protocol/merkle-seal.js';
import type { WireEnvelope } from '../../protocol/wire-envelope.js';
import { EncapsulationCache, kemReuseMs } from './encapsulation-cache.js';
import { createSignPool, type SignPool, type SignPoolOptions } from './sign-pool.js';

/** What the data plane needs to turn a response into an envelope. */
export interface EnvelopeSealer {
  sealWire(input: SealEnvelopeInput): Promise<WireEnvelope>;
}

/** Default cap on envelopes per signature: bounds the wait of the last one and the proof length (8). */
export const DEFAULT_MAX_BATCH = 256;

export interface BatchSignerOptions extends Omit<SignPoolOptions, 'backend'> {
  /** Default: the process-wide backend (getCryptoBackend()). */
  backend?: CryptoBackend;
  /** false: one signature per envelope (the pre-§8 behaviour, for measurement). Default true. */
  batching?: boolean;
  /** Most envelopes under one signature. Default 256. */
  maxBatch?: number;
  /**
   * Run ML-KEM-768 encapsulation on the pool too (only when it has workers). Default: only for
   * noble, whose ~1 ms encapsulation is worth a thread hop; pqclean's ~0.1 ms is not (measured:
   * bench/batch-signing-measure.ts, pqclean throughput falls by a third with it on).
   */
  kemInWorkers?: boolean;
  /** How long one ML-KEM-768 encapsulation serves a tenant's recipient key, ms (0 = one per envelope). Default kemReuseMs(). */
  kemReuseMs?: number;
}

export interface BatchSignerStats {
  envelopes: number;
  /** ML-DSA-65 signatures made; envelopes / signatures is the average batch. */
  signatures: number;
  largestBatch: number;
}

interface Pending {
  prepared: PreparedEnvelope;
  secretKey: Uint8Array;
  resolve: (envelope: WireEnvelope) => void;
  reject: (err: unknown) => void;
}

export class BatchSigner implements EnvelopeSealer {
  readonly #pool: SignPool;
  readonly #backend: CryptoBackend;
  readonly #batching: boolean;
  readonly #maxBatch: number;
  readonly #kemInWorkers: boolean;
  readonly #encapsulations: EncapsulationCache;
  readonly #envelopeKey: NonNullable<PrepareDependencies['envelopeKey']> = (tenantId, recipient, encapsulate) => this.#encapsulations.keyFor(tenantId, recipient, encapsulate);
  #queue: Pending[] = [];
  #inFlight = 0;
  #turnScheduled = false;
  #closed = false;
  #drained: (() => void) | undefined;
  #destroying: Promise<void> | undefined;
  readonly #stats: BatchSignerStats = { envelopes: 0, signatures: 0, largestBatch: 0 };

  /** Builds the sign pool (workers unless `workers: 0`) and the signer over it. */
  static async create(opts: BatchSignerOptions = {}): Promise<BatchSigner> {
    const backend = opts.backend ?? getCryptoBackend();
    return new BatchSigner(await createSignPool({ ...opts, backend }), { ...opts, backend });
  }

  constructor(pool: SignPool, opts: BatchSignerOptions & { backend: CryptoBackend }) {
    const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1 || maxBatch > 65_536) throw new RangeError('maxBatch must be an integer from 1 to 65536');
    this.#pool = pool;
    this.#backend = opts.backend;
    this.#batching = opts.batching ?? true;
    this.#maxBatch = maxBatch;
    this.#kemInWorkers = (opts.kemInWorkers ?? opts.backend.name === 'noble') && pool.mode === 'workers';
    this.#encapsulations = new EncapsulationCache({ reuseMs: opts.kemReuseMs ?? kemReuseMs() });
  }

  /** "workers" or "inline", and why inline when workers were asked for. */
  get mode(): { mode: SignPool['mode']; threads: number; fallbackReason: string | undefined } {
    return { mode: this.#pool.mode, threads: this.#pool.threads, fallbackReason: this.#pool.fallbackReason };
  }

  stats(): BatchSignerStats {
    return { ...this.#stats };
  }

  /**
   * Seal one response. Resolves to the single format when it was signed alone, or to a batched
   * envelope with `signature.merkle`. `deps` pins the clock/nonce (tests); the backend is the signer's.
   */
  async seal(input: SealEnvelopeInput, deps: Omit<SealDependencies, 'backend'> = {}): Promise<HybridCryptoEnvelope> {
    return (await this.sealWire(input, deps)).toJSON();
  }

  /** seal(), before serialization: the caller picks the JSON or the binary spelling. */
  async sealWire(input: SealEnvelopeInput, deps: Omit<SealDependencies, 'backend'> = {}): Promise<WireEnvelope> {
    if (this.#closed) throw new Error('the envelope signer is shut down');
    const prepared = await prepareEnvelope(input, {
      ...deps,
      backend: this.#backend,
      ...(this.#kemInWorkers ? { encapsulate: (pk: Uint8Array) => this.#pool.encapsulate(pk) } : {}),
      envelopeKey: this.#envelopeKey,
    });
    return new Promise<WireEnvelope>((resolve, reject) => {
      this.#queue.push({ prepared, secretKey: input.signer.secretKey, resolve, reject });
      this.#kick();
    });
  }

  /** Waits for queued and in-flight envelopes, then stops the workers. Idempotent. */
  destroy(): Promise<void> {
    this.#closed = true;
    this.#destroying ??= (async () => {
      if (this.#inFlight > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#encapsulations.dispose();
      await this.#pool.destroy();
    })();
    return this.#destroying;
  }

  /**
   * Start signatures while slots are free; each takes everything queued (up to the cap). A free
   * slot waits for the end of the current event-loop turn (setImmediate, no timer) before it
   * takes the queue: responses finished by the same burst of I/O — a group-committed audit batch,
   * several PostgreSQL answers read at once — then share one signature instead of the first going
   * alone and the rest queueing behind it. Idle, that costs one turn of the loop (microseconds).
   */
  #kick(): void {
    if (this.#turnScheduled || this.#inFlight >= this.#pool.threads || this.#queue.length === 0) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#startSignatures();
    });
  }

  #startSignatures(): void {
    while (this.#inFlight < this.#pool.threads && this.#queue.length > 0) {
      const batch = this.#take();
      this.#inFlight++;
      void this.#sign(batch).finally(() => {
        this.#inFlight--;
        this.#startSignatures();
        if (this.#inFlight === 0 && this.#queue.length === 0) this.#drained?.();
      });
    }
  }

  /** The oldest queued envelope and every later one with the same signing key, up to the cap. */
  #take(): Pending[] {
    const limit = this.#batching ? this.#maxBatch : 1;
    const keyId = this.#queue[0]?.prepared.signerKeyId;
    const taken: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.#queue) (taken.length < limit && p.prepared.signerKeyId === keyId ? taken : rest).push(p);
    this.#queue = rest;
    return taken;
  }

  async #sign(batch: Pending[]): Promise<void> {
    try {
      const plan = planBatchSignature(batch.map((p) => p.prepared));
      const signature = await this.#pool.sign((batch[0] as Pending).secretKey, plan.message);
      const envelopes = plan.finish(signature);
      this.#stats.signatures++;
      this.#stats.envelopes += batch.length;
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, batch.length);
      batch.forEach((p, i) => p.resolve(envelopes[i] as WireEnvelope));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
