/** Options of {@link LruCache}. */
export interface LruCacheOptions<K, V> {
  /**
   * A second bound: the most total weight (e.g. estimated bytes) the entries may have together.
   * Entries are evicted, oldest first, until a new one fits; an entry heavier than the whole bound
   * is not stored at all.
   */
  readonly maxWeight: number;
  /** The weight of one entry (called once, when it is stored). */
  readonly weigh: (key: K, value: V) => number;
}

interface Slot<V> {
  readonly value: V;
  readonly weight: number;
}

/**
 * A bounded least-recently-used map (the proxy's parse and mapping caches, the driver's root and
 * decapsulation caches; internal, not part of the `quantaseal/protocol` exports). JavaScript's `Map` keeps insertion order, so moving a key
 * to the end on every hit and evicting from the front is an O(1) LRU without a linked list.
 * Bounded by entry count and, optionally, by total weight: a count alone does not bound memory
 * when keys can be large (SQL texts up to the request body limit).
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #maxWeight: number;
  readonly #weigh: ((key: K, value: V) => number) | undefined;
  readonly #map = new Map<K, Slot<V>>();
  #weight = 0;

  /** @param max the most entries kept; older ones are evicted first. */
  constructor(max: number, options?: LruCacheOptions<K, V>) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LruCache size must be a positive integer, got ${max}`);
    if (options !== undefined && !(options.maxWeight > 0)) throw new RangeError(`LruCache maxWeight must be positive, got ${options.maxWeight}`);
    this.#max = max;
    this.#maxWeight = options?.maxWeight ?? Number.POSITIVE_INFINITY;
    this.#weigh = options?.weigh;
  }

  /** The number of entries held now (never more than the bound). */
  get size(): number {
    return this.#map.size;
  }

  /** The bound given to the constructor. */
  get max(): number {
    return this.#max;
  }

  /** The total weight of the entries held now (0 without a weight bound). */
  get weight(): number {
    return this.#weight;
  }

  /** The value for `key`, marking it most recently used; `undefined` on a miss. */
  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, slot);
    return slot.value;
  }

  /**
   * Stores `value`, evicting least recently used entries until both bounds hold. A value heavier
   * than the whole weight bound is not stored (and drops an older entry under the same key).
   */
  set(key: K, value: V): void {
    const weight = this.#weigh === undefined ? 0 : this.#weigh(key, value);
    this.delete(key);
    if (weight > this.#maxWeight) return;
    while (this.#map.size > 0 && (this.#map.size >= this.#max || this.#weight + weight > this.#maxWeight)) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
    this.#map.set(key, { value, weight });
    this.#weight += weight;
  }

  /** Drops the entry for `key`, if any. */
  delete(key: K): void {
    const slot = this.#map.get(key);
    if (slot === undefined) return;
    this.#map.delete(key);
    this.#weight -= slot.weight;
  }

  /** Drops every entry. */
  clear(): void {
    this.#map.clear();
    this.#weight = 0;
  }
}
