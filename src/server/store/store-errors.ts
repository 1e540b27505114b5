import { QsError } from '../../protocol/errors.js';

/**
 * Turns a unique-key violation from either database into QS_CONFLICT, so callers handle
 * "already exists" the same way whichever store is configured. Other errors pass unchanged.
 */
export function mapConstraintError(err: unknown, what: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  // 23505 = PostgreSQL unique_violation; SQLite reports primary-key and unique separately.
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new QsError('QS_CONFLICT', `${what} already exists`, { cause: err });
  }
  return err;
}

/** A copy of the bytes as a plain Uint8Array (drivers hand back Buffers that may share a pool slab). */
export function toBytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

/** A Buffer view of the bytes, for drivers that only bind Buffers (no copy). */
export function toBuffer(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The hash of the "previous event" of a chain's first event. */
export const GENESIS_HASH = '0'.repeat(64);
