import { batchTenants, chainEvents, type ChainHead } from './audit-chain.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';
import { GENESIS_HASH, mapConstraintError } from './store-errors.js';
import type { AuditEventInput, AuditEventRecord, AuditHasher } from './store.js';

interface AuditStatements {
  head: SqliteStatement;
  insert: SqliteStatement;
  setHead: SqliteStatement;
}

const prepared = new WeakMap<SqliteDatabase, AuditStatements>();

function statements(db: SqliteDatabase): AuditStatements {
  let s = prepared.get(db);
  if (s === undefined) {
    s = {
      head: db.prepare('SELECT seq, hash FROM audit_heads WHERE tenant_id = ?'),
      insert: db.prepare(
        `INSERT INTO audit_events (tenant_id, seq, id, ts, integration_id, operation, api_key_id, request_id, route, fingerprint,
           outcome, sqlstate, qs_code, row_count, duration_ms, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      setHead: db.prepare(
        `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
      ),
    };
    prepared.set(db, s);
  }
  return s;
}

/**
 * Chains and inserts one batch of audit events in a single IMMEDIATE transaction (one commit,
 * one fsync), so another connection to the file cannot read a chain head between our read and
 * our write. Shared by the store's own connection and its audit writer thread.
 */
export function appendAuditBatch(db: SqliteDatabase, events: readonly AuditEventInput[], hasher: AuditHasher): AuditEventRecord[] {
  if (events.length === 0) return [];
  const s = statements(db);
  const append = db.transaction((): AuditEventRecord[] => {
    const heads = new Map<string, ChainHead>();
    for (const tenantId of batchTenants(events)) {
      const head = s.head.get(tenantId) as { seq: number; hash: string } | undefined;
      heads.set(tenantId, head ? { seq: Number(head.seq), hash: String(head.hash) } : { seq: 0, hash: GENESIS_HASH });
    }
    const records = chainEvents(events, heads, hasher);
    try {
      for (const r of records) {
        s.insert.run(
          r.tenantId,
          r.seq,
          r.id,
          r.ts,
          r.integrationId ?? null,
          r.operation ?? null,
          r.apiKeyId ?? null,
          r.requestId ?? null,
          r.route,
          r.fingerprint ?? null,
          r.outcome,
          r.sqlstate ?? null,
          r.qsCode ?? null,
          r.rowCount ?? null,
          r.durationMs,
          r.prevHash,
          r.hash,
        );
      }
    } catch (err) {
      throw mapConstraintError(err, 'audit event');
    }
    for (const [tenantId, head] of heads) s.setHead.run(tenantId, head.seq, head.hash);
    return records;
  });
  return append.immediate();
}
