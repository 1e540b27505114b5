import pg from 'pg';
import { QsError } from '../../protocol/errors.js';
import { connectionConfig, parseDsn } from '../executor/dsn-config.js';
import { scrubSecrets, toConnectionError } from '../executor/errors.js';
import type { Executor } from '../executor/executor.js';
import type { ExecutionLimits } from '../executor/types.js';
import type { IntegrationRecord } from '../store/store.js';
import type { VaultService } from '../vault/vault-service.js';
import type { CatalogQuery } from './catalog.js';

/** The vault calls catalog reads need. */
export type CatalogVault = Pick<VaultService, 'unsealDsn' | 'currentVersion'>;

/** Catalog reads give up after this long (they touch a few catalog rows). */
const CATALOG_TIMEOUT_MS = 10_000;

/**
 * Catalog reads for an existing integration, on its own read-only pool: no new connection, and
 * the DSN is unsealed only if the pool has none yet.
 */
export function executorCatalogQuery(
  executor: Pick<Executor, 'run'>,
  vault: CatalogVault,
  tenantId: string,
  integration: IntegrationRecord,
): CatalogQuery {
  const { credentialId } = integration;
  // Only what the pool is keyed by: max_rows must not refuse a catalog read (it is one row anyway).
  const limits: ExecutionLimits = {};
  if (integration.limits.statement_timeout_ms !== undefined) limits.statement_timeout_ms = integration.limits.statement_timeout_ms;
  return async (sql, params) => {
    const version = await vault.currentVersion(tenantId, credentialId);
    if (version === null) throw new QsError('QS_NOT_FOUND', "the integration's credential no longer exists");
    const { results } = await executor.run({
      target: {
        integrationId: integration.id,
        credentialId,
        credentialVersion: version,
        getDsn: async () => (await vault.unsealDsn(tenantId, credentialId, version)).dsn,
        limits,
      },
      mode: 'read',
      statements: [{ sql, params }],
      batch: false,
    });
    return results[0]?.rows[0]?.[0] ?? null;
  };
}

/**
 * Runs `fn` with catalog reads on one short-lived read-only connection: used when an integration
 * is being saved, before it has pools. Connection failures become QS_DB_* errors without the DSN.
 */
export async function withDirectCatalogQuery<T>(dsn: string, credentialId: string, fn: (query: CatalogQuery) => Promise<T>): Promise<T> {
  const parsed = parseDsn(dsn);
  const client = new pg.Client({
    ...connectionConfig(parsed, { readOnly: true, statementTimeoutMs: CATALOG_TIMEOUT_MS }),
    connectionTimeoutMillis: CATALOG_TIMEOUT_MS,
  });
  // A socket error after connect must not become an uncaught 'error' event.
  client.on('error', () => {});
  const ctx = { credentialId, tls: parsed.tls };
  try {
    await client.connect();
    return await fn(async (sql, params) => {
      const result = await client.query<unknown[]>({ text: sql, values: params, rowMode: 'array' });
      const cell = result.rows[0]?.[0];
      return typeof cell === 'string' ? cell : null;
    });
  } catch (err) {
    const mapped = toConnectionError(err, ctx);
    if (mapped) throw mapped;
    if (err instanceof QsError) throw err;
    throw new QsError('QS_INTERNAL', `reading the catalog failed: ${scrubSecrets(err instanceof Error ? err.message : String(err))}`, { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}
