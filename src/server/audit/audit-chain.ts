import { sha256 } from '../../crypto/symmetric.js';
import { canonical } from '../../protocol/bytes.js';
import { GENESIS_HASH } from '../store/store-errors.js';
import type { AuditEventInput, AuditEventRecord, AuditHasher } from '../store/store.js';

/** prev_hash of a tenant's first event (the store seeds chain heads with it). */
export { GENESIS_HASH };

/** null and "" must hash differently, so every optional value carries a presence tag. */
const opt = (v: string | number | null): string => (v === null ? '' : `v:${String(v)}`);

/**
 * hash = SHA-256(canonical("QSAUDIT1", prev_hash, seq, every field)) — the per-tenant chain
 * `quantaseal audit verify` walks. Any edit, deletion or reordering breaks a link.
 */
export const auditHasher: AuditHasher = (prevHash, e) =>
  sha256(
    canonical(
      'QSAUDIT1',
      prevHash,
      String(e.seq),
      e.id,
      e.tenantId,
      e.ts,
      opt(e.integrationId),
      opt(e.operation),
      opt(e.apiKeyId),
      opt(e.requestId),
      e.route,
      opt(e.fingerprint),
      e.outcome,
      opt(e.sqlstate),
      opt(e.qsCode),
      opt(e.rowCount),
      String(e.durationMs),
    ),
  ).toString('hex');

export interface ChainBreak {
  seq: number;
  eventId: string;
  reason: 'hash mismatch' | 'broken link' | 'sequence gap';
}

/** Walks one tenant's chain; returns the first break, or null with the count checked. */
export async function verifyChain(events: AsyncIterable<AuditEventRecord>): Promise<{ checked: number; break: ChainBreak | null }> {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  for await (const e of events) {
    if (e.seq !== expectedSeq) return { checked, break: { seq: e.seq, eventId: e.id, reason: 'sequence gap' } };
    if (e.prevHash !== prev) return { checked, break: { seq: e.seq, eventId: e.id, reason: 'broken link' } };
    const { seq, prevHash: _p, hash, ...input } = e;
    if (auditHasher(prev, { ...(input as AuditEventInput), seq }) !== hash) return { checked, break: { seq: e.seq, eventId: e.id, reason: 'hash mismatch' } };
    prev = hash;
    expectedSeq++;
    checked++;
  }
  return { checked, break: null };
}
