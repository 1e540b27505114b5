import { LruCache } from '../../protocol/lru-cache.js';

/** How long a claim is remembered: far beyond any retry the driver makes (it retries at once). */
const CLAIM_TTL_MS = 10 * 60_000;
/** Claims kept at most (~100 bytes each). Only SELECTs rerun on the write pool make claims. */
const MAX_CLAIMS = 100_000;

/**
 * At most once for the one way a `query` can write: a SELECT that hit the read-only wall (it calls
 * nextval() or a writing function) and is rerun on the write pool (data-plane.ts). The driver
 * sends a read again, byte for byte, after a connection that was refused or reset before any
 * answer; if the reset came after the proxy ran the rerun, a second run would write twice.
 * So the first run of a request claims it — keyed by tenant, the SHA-256 of the exact request
 * body (which holds its request id) and the call's slot in it — and a second run is refused.
 * Reads that never reach the write pool changed nothing and run again freely. The claims live in
 * this proxy process: a retry that a load balancer sends to another node is not seen here.
 */
export class WriteRerunClaims {
  readonly #claims = new LruCache<string, number>(MAX_CLAIMS);

  constructor(private readonly now: () => number = Date.now) {}

  /** True the first time `key` is claimed (within the TTL); false for any later claim of it. */
  claim(key: string): boolean {
    const now = this.now();
    const until = this.#claims.get(key);
    if (until !== undefined && until > now) return false;
    this.#claims.set(key, now + CLAIM_TTL_MS);
    return true;
  }

  /** The claim key of call `slot` (0 for a lone call) of the request with body hash `requestSha256`. */
  static keyOf(tenantId: string, requestSha256: string, slot: number): string {
    return `${tenantId}\0${requestSha256}\0${slot}`;
  }
}
