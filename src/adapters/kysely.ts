import { PostgresDialect, type PostgresDialectConfig } from 'kysely';
import { QsPool, type QsPoolConfig } from '../client/qs-pool.js';

/** QsDialect options: a QsPool, or the options to build one, plus Kysely's other Postgres options. */
export type QsDialectConfig = Omit<PostgresDialectConfig, 'pool'> & ({ pool: QsPool } | { qs?: QsPoolConfig });

/**
 * Kysely's own `PostgresDialect` over a QsPool (the pool already is a pg.Pool; this only saves
 * building it):
 *
 * ```ts
 * import { Kysely } from 'kysely';
 * import { QsDialect } from 'quantaseal/kysely';
 * const db = new Kysely<DB>({ dialect: new QsDialect({ qs: { clientKeys: './.quantaseal/client-keys.json' } }) });
 * ```
 * Kysely checks a client out of the pool for every query; a plain query runs sessionless (one
 * round trip), a transaction opens a session with its BEGIN that is closed on release;
 * `db.destroy()` ends the pool and closes any still open.
 */
export class QsDialect extends PostgresDialect {
  constructor(config: QsDialectConfig = {}) {
    const { pool, qs, ...rest } = config as Omit<PostgresDialectConfig, 'pool'> & { pool?: QsPool; qs?: QsPoolConfig };
    super({ ...rest, pool: pool ?? new QsPool(qs) });
  }
}
