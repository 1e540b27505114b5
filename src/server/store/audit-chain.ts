import type { AuditEventInput, AuditEventRecord, AuditHasher, Store } from './store.js';

/** The last link of a tenant's chain: seq 0 and GENESIS_HASH before the first event. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Links a batch onto the chain heads, in input order: each event gets the next seq of its
 * tenant and the previous event's hash as prevHash. Mutates `heads` to the new heads. Pure, so
 * both stores chain identically; the caller holds the heads' lock while calling it.
 */
export function chainEvents(events: readonly AuditEventInput[], heads: Map<string, ChainHead>, hasher: AuditHasher): AuditEventRecord[] {
  return events.map((event) => {
    const head = heads.get(event.tenantId);
    if (head === undefined) throw new Error(`audit head for tenant ${event.tenantId} was not loaded`);
    const seq = head.seq + 1;
    const hash = hasher(head.hash, { ...event, seq });
    heads.set(event.tenantId, { seq, hash });
    return { ...event, seq, prevHash: head.hash, hash };
  });
}

/** The distinct tenants of a batch, sorted: every node locks heads in the same order, so none deadlock. */
export function batchTenants(events: readonly AuditEventInput[]): string[] {
  return [...new Set(events.map((e) => e.tenantId))].sort();
}

/** Rows per page when streaming an audit chain, so a million-event chain is never in memory at once. */
export const CHAIN_PAGE = 1000;

/** A tenant's whole chain in seq order, a page at a time (keyset pagination on seq), for either store. */
export async function* pageAuditChain(store: Pick<Store, 'listAuditEvents'>, tenantId: string): AsyncIterable<AuditEventRecord> {
  let after = 0;
  for (;;) {
    const page = await store.listAuditEvents(tenantId, { afterSeq: after, limit: CHAIN_PAGE });
    yield* page;
    const last = page.at(-1);
    if (last === undefined || page.length < CHAIN_PAGE) return;
    after = last.seq;
  }
}
