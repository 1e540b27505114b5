import { LruCache } from '../../protocol/lru-cache.js';

/** Claims kept at most (~300 bytes each with the map's own cost: ~30 MB when full); only SELECTs rerun on the write pool make claims. */
const MAX_CLAIMS = 100_000;

/**
 * Store.claimRequest for a store that belongs to one process (SQLite): the claims live in this
 * process's memory. A claim that survived a crash would cost an fsync on the event loop for every
 * rerun, and a restarted process cannot receive the driver's immediate retry anyway. Bounded:
 * past MAX_CLAIMS the oldest go first, far sooner than any retry comes.
 */
export class MemoryRequestClaims {
  readonly #claims = new LruCache<string, number>(MAX_CLAIMS);

  claim(tenantId: string, key: string, expiresAt: number, now: number): boolean {
    const slot = `${tenantId}\0${key}`;
    const until = this.#claims.get(slot);
    if (until !== undefined && until > now) return false;
    this.#claims.set(slot, expiresAt);
    return true;
  }
}
