/**
 * At most once for the one way a `query` can write: a SELECT that hit the read-only wall (it calls
 * nextval() or a writing function) and is rerun on the write pool (data-plane.ts). The driver
 * sends a read again, byte for byte, after a connection that was refused or reset before any
 * answer; if the reset came after the proxy ran the rerun, a second run would write twice. So the
 * first rerun of a request claims it in the store (Store.claimRequest: across the nodes sharing a
 * PostgreSQL store, in memory for SQLite) and a second one is refused with QS_ALREADY_RUN. Reads
 * that never reach the write pool changed nothing and run again freely.
 */

/** How long a claim holds: far beyond any retry the driver makes (it retries at once). */
export const REQUEST_CLAIM_TTL_MS = 10 * 60_000;

/**
 * The claim key of call `slot` (0 for a lone call) of the request whose exact body has SHA-256
 * `requestSha256` (the body holds the request id). Another body with the same request id is
 * another request; the same body sent again is the same one.
 */
export function requestClaimKey(requestSha256: string, slot: number): string {
  return `rerun:${requestSha256}:${slot}`;
}
