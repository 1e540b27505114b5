import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Bytes the pool asks the CSPRNG for at once. One `randomBytes(16)` call costs 5–15 µs here (a
 * trip through OpenSSL's DRBG); the proxy took several per request (ids, nonce) and spent ~3% of
 * its main thread on them at 32 in flight. One 4 KiB fill costs ~11 µs and serves ~200 of them.
 */
const POOL_BYTES = 4096;

/** Requests larger than this bypass the pool (a fill would serve too few of them to matter). */
const MAX_POOLED = 64;

let pool = Buffer.alloc(0);
let offset = 0;

/**
 * `n` bytes from the CSPRNG (node:crypto), served from a pooled fill — for public randomness
 * that is taken often: identifiers and AES-GCM nonces. Keys, seeds and secrets take
 * `randomBytes` directly, so no secret ever shares a buffer with anything else.
 *
 * Every byte is handed out once. A refill allocates a new buffer (it never overwrites the old
 * one), so a returned view stays as it was for as long as its holder keeps it. The view must not
 * be written to: its neighbours belong to other callers.
 */
export function pooledRandomBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`pooledRandomBytes: bad length ${n}`);
  if (n > MAX_POOLED) return randomBytes(n);
  if (offset + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}
