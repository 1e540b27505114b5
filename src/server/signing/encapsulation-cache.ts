/**
 * ML-KEM-768 encapsulation reuse. An encapsulation (ct_kem and the AES-256-GCM key HKDF derives
 * from its shared secret) is kept per tenant and recipient key for a short window and reused by
 * the envelopes sealed in it, each under its own random nonce and its own header in the AAD; the
 * client keeps the matching decapsulation (protocol/decapsulation-cache.ts). Once batch signing
 * had made ML-DSA-65 rare, encapsulation, decapsulation (~0.2 ms each here) and two HKDFs were
 * what was left per answer: point SELECT at 32 in flight, 539 q/s without reuse, 734 with it.
 *
 * What it changes: the answers sealed to one recipient key in one window share a key, so whoever
 * learns that key reads that window's answers. The key lives only in the memory of the two ends;
 * the proxy wipes it when the window ends (a sweep), so a later look at its memory finds only the
 * current window's keys. Nonces stay unique: random 96-bit, and a key is used at most `maxUses`
 * times (at the default 2^16, a repeat has probability < 2^-64). Every envelope still carries
 * ct_kem and opens on its own. `QS_KEM_REUSE_MS=0` restores one encapsulation per response.
 */
import type { KemEncapsulation } from '../../crypto/backend.js';
import { envelopeAeadKey } from '../../protocol/envelope.js';
import { envInteger } from '../config.js';

export interface EnvelopeKey {
  cipherText: Uint8Array;
  key: Buffer;
}

export interface EncapsulationCacheOptions {
  /** How long one encapsulation serves, ms; 0 = a fresh one per envelope. Default DEFAULT_KEM_REUSE_MS. */
  reuseMs?: number;
  /** Envelopes per encapsulation at most. Default 65,536. */
  maxUses?: number;
  /** Tenant/recipient pairs kept at once (least recently used evicted). Default 4,096. */
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_KEM_REUSE_MS = 1000;
const MAX_KEM_REUSE_MS = 60_000;

/** `QS_KEM_REUSE_MS` (0 to 60000) when set, else DEFAULT_KEM_REUSE_MS. */
export function kemReuseMs(env: NodeJS.ProcessEnv = process.env): number {
  return envInteger(env, 'QS_KEM_REUSE_MS', { min: 0, max: MAX_KEM_REUSE_MS }) ?? DEFAULT_KEM_REUSE_MS;
}

interface Entry extends EnvelopeKey {
  expiresAt: number;
  usesLeft: number;
}

export class EncapsulationCache {
  readonly #reuseMs: number;
  readonly #maxUses: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #sweeper: NodeJS.Timeout | undefined;

  constructor(opts: EncapsulationCacheOptions = {}) {
    this.#reuseMs = opts.reuseMs ?? DEFAULT_KEM_REUSE_MS;
    this.#maxUses = opts.maxUses ?? 65_536;
    this.#maxEntries = opts.maxEntries ?? 4096;
    this.#now = opts.now ?? Date.now;
    // A key must not outlive its window in memory just because its recipient went quiet.
    if (this.#reuseMs > 0) this.#sweeper = setInterval(() => this.sweep(), Math.max(this.#reuseMs, 250)).unref();
  }

  /**
   * The key to seal one envelope to `recipient` under `tenantId`: the current encapsulation while
   * it is fresh and has uses left, else a new one from `encapsulate`. The recipient's key id names
   * its public key (a hash of it), so a rotated key is a different entry. The key returned is the
   * caller's own copy: the cached one is wiped when its entry goes, whoever still holds a copy.
   */
  async keyFor(
    tenantId: string,
    recipient: { keyId: string; publicKey: Uint8Array },
    encapsulate: (publicKey: Uint8Array) => KemEncapsulation | Promise<KemEncapsulation>,
  ): Promise<EnvelopeKey> {
    if (this.#reuseMs === 0) return fresh(tenantId, recipient, await encapsulate(recipient.publicKey));
    const id = `${tenantId}\u0000${recipient.keyId}`;
    const now = this.#now();
    const entry = this.#entries.get(id);
    if (entry !== undefined && entry.expiresAt > now && entry.usesLeft > 0) {
      entry.usesLeft--;
      this.#entries.delete(id);
      this.#entries.set(id, entry);
      return { cipherText: entry.cipherText, key: Buffer.from(entry.key) };
    }
    const next = fresh(tenantId, recipient, await encapsulate(recipient.publicKey));
    this.#drop(id);
    this.#entries.set(id, { cipherText: next.cipherText, key: Buffer.from(next.key), expiresAt: now + this.#reuseMs, usesLeft: this.#maxUses - 1 });
    const oldest = this.#entries.keys().next();
    if (this.#entries.size > this.#maxEntries && oldest.done !== true) this.#drop(oldest.value);
    return next;
  }

  /** Drops (and wipes) every entry whose window has passed. Runs on a timer; public for tests. */
  sweep(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) if (entry.expiresAt <= now || entry.usesLeft <= 0) this.#drop(id);
  }

  /** Entries held now (tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** Stops the sweeper and wipes every key (server shutdown). */
  dispose(): void {
    clearInterval(this.#sweeper);
    for (const id of [...this.#entries.keys()]) this.#drop(id);
  }

  #drop(id: string): void {
    this.#entries.get(id)?.key.fill(0);
    this.#entries.delete(id);
  }
}

function fresh(tenantId: string, recipient: { keyId: string }, encaps: KemEncapsulation): EnvelopeKey {
  return { cipherText: encaps.cipherText, key: envelopeAeadKey(encaps.sharedSecret, encaps.cipherText, tenantId, recipient.keyId) };
}
