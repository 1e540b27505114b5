/**
 * A bounded least-recently-used map. JavaScript's `Map` keeps insertion order, so moving a key
 * to the end on every hit and evicting from the front is an O(1) LRU without a linked list.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  /** @param max the most entries kept; older ones are evicted first. */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LruCache size must be a positive integer, got ${max}`);
    this.#max = max;
  }

  /** The number of entries held now (never more than the bound). */
  get size(): number {
    return this.#map.size;
  }

  /** The bound given to the constructor. */
  get max(): number {
    return this.#max;
  }

  /** The value for `key`, marking it most recently used; `undefined` on a miss. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** Stores `value`, evicting the least recently used entry when the bound is reached. */
  set(key: K, value: V): void {
    if (this.#map.has(key)) this.#map.delete(key);
    else if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }

  /** Drops every entry. */
  clear(): void {
    this.#map.clear();
  }
}
