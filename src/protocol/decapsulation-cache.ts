/**
 * The client's half of encapsulation reuse (server/signing/encapsulation-cache.ts): the AES-256-GCM
 * keys of ct_kem values it has already decapsulated, so envelopes sealed under one server
 * encapsulation cost one ML-KEM-768 decapsulation between them.
 */
import { createHash } from 'node:crypto';
import { canonical } from './bytes.js';
import { LruCache } from './lru-cache.js';

/** A server encapsulation lives about a second; a few per recipient are live at once. */
export const DEFAULT_DECAPSULATION_CACHE_SIZE = 64;

/**
 * A small LRU from (tenant, recipient key, ct_kem) to the derived key. `openEnvelope` looks it up
 * only after the envelope verified, and adds an entry only after the envelope decrypted. The lookup
 * key hashes the recipient's secret key too, so one cache shared by clients holding different keys
 * under the same id still never hands one of them the other's key.
 */
export class DecapsulationCache {
  readonly #entries: LruCache<string, Buffer>;

  constructor(readonly maxEntries: number = DEFAULT_DECAPSULATION_CACHE_SIZE) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#entries = new LruCache(maxEntries);
  }

  static #id(tenantId: string, recipient: { keyId: string; secretKey: Uint8Array }, cipherTextKem: Uint8Array): string {
    return createHash('sha256').update(canonical('QSKEMCACHE', tenantId, recipient.keyId, recipient.secretKey, cipherTextKem)).digest('base64');
  }

  get(tenantId: string, recipient: { keyId: string; secretKey: Uint8Array }, cipherTextKem: Uint8Array): Buffer | undefined {
    return this.#entries.get(DecapsulationCache.#id(tenantId, recipient, cipherTextKem));
  }

  add(tenantId: string, recipient: { keyId: string; secretKey: Uint8Array }, cipherTextKem: Uint8Array, key: Buffer): void {
    this.#entries.set(DecapsulationCache.#id(tenantId, recipient, cipherTextKem), key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
