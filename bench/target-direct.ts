import pg from 'pg';
import { POOL_MAX, QUERY_TIMEOUT_MS, type BenchTarget } from './bench-target.js';

/** The baseline: a plain pg.Pool straight to PostgreSQL. */
export function startDirectTarget(databaseUrl: string): BenchTarget {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: POOL_MAX, query_timeout: QUERY_TIMEOUT_MS });
  return {
    id: 'direct',
    label: 'direct pg',
    detail: `pg.Pool max ${POOL_MAX}`,
    pool,
    enableTokenization: () => Promise.resolve({ table: 'signups' }),
    close: () => pool.end(),
  };
}
