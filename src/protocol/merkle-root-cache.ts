/**
 * The client's memory of batch roots it has already verified (DESIGN §8: "the client caches roots
 * it has verified, so it pays one ML-DSA verify per batch, while the HMAC stays per response").
 */
import { createHash } from 'node:crypto';
import { canonical } from './bytes.js';
import { LruCache } from './lru-cache.js';

/** Default number of roots remembered; a batch is answered within milliseconds, so few are live at once. */
export const DEFAULT_ROOT_CACHE_SIZE = 1024;

/**
 * A small LRU of verified (signing key, root message, signature) triples. `openEnvelope` only adds
 * an entry after the ML-DSA-65 check over it passed (and the whole envelope verified), and only
 * looks entries up for envelopes carrying `signature.merkle`. The key covers the public key bytes,
 * not just its id, so one cache shared by clients pinning different keys stays sound; and the
 * signature bytes, so an envelope whose root signature was swapped is refused even on a hit.
 */
export class MerkleRootCache {
  readonly #entries: LruCache<string, true>;

  constructor(readonly maxEntries: number = DEFAULT_ROOT_CACHE_SIZE) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#entries = new LruCache(maxEntries);
  }

  /** The lookup key for one root signed by one key. */
  static keyFor(signingKey: { keyId: string; publicKey: Uint8Array }, rootMessage: Uint8Array, signature: Uint8Array): string {
    return createHash('sha256').update(canonical('QSROOTCACHE', signingKey.keyId, signingKey.publicKey, rootMessage, signature)).digest('base64');
  }

  /** True when this root was verified before; refreshes its recency. */
  has(key: string): boolean {
    return this.#entries.get(key) === true;
  }

  /** Remember a root whose signature verified; evicts the least recently used past the cap. */
  add(key: string): void {
    this.#entries.set(key, true);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
