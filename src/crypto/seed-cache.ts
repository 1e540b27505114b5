import { createHash } from 'node:crypto';

/**
 * A small LRU of values derived from secret seeds (expanded secret keys, public keys).
 * Expanding a seed costs about as much as the operation it enables, and the server uses
 * the same handful of keys for every response. Entries are keyed by a hash of the seed,
 * never by the seed itself, so the map's keys do not hold secrets.
 */
export class SeedCache<V> {
  readonly #entries = new Map<string, V>();

  constructor(private readonly capacity = 64) {}

  get(seed: Uint8Array, derive: () => V): V {
    const key = createHash('sha256').update(seed).digest('base64');
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const value = derive();
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return value;
  }
}
