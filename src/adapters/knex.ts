import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import pg from 'pg';
import { hide, type QsConnectionOptions } from '../client/config.js';
import { QsClient } from '../client/qs-client.js';

const require = createRequire(import.meta.url);
// Knex ships its dialects as CommonJS without types; the class is Knex.Client at the type level.
const ClientPG = require('knex/lib/dialects/postgres/index.js') as typeof Knex.Client;

/** The part of the `pg` module Knex's postgres dialect uses as `this.driver`. */
export interface QsKnexDriver {
  Client: typeof QsClient;
  types: typeof pg.types;
  DatabaseError: typeof pg.DatabaseError;
}

/**
 * Knex's own PostgreSQL client (query compiler, transactions, migrations) with QsClient as the
 * driver's `Client`:
 *
 * ```ts
 * import knex from 'knex';
 * import { QsKnexClient, qsConnection } from 'quantaseal/knex';
 * const db = knex({
 *   client: QsKnexClient,
 *   connection: qsConnection({ url: 'http://127.0.0.1:8080', apiKey: process.env.QUANTASEAL_API_KEY, clientKeys: './.quantaseal/client-keys.json' }),
 * });
 * ```
 * `connection` takes QsConnectionOptions (or `{ connectionString: 'quantaseal://…' }`, or `{}` for
 * the QUANTASEAL_* environment). Knex keeps its connections in its own pool for many queries;
 * each runs sessionless until its first statement that needs a connection of its own
 * (`SET search_path`, BEGIN, temp tables…), which opens a server session it then keeps; Knex's
 * destroyRawConnection (`end()`) closes it. `processID` is null, so Knex's query cancellation
 * (`pg_cancel_backend`) cancels nothing; use query timeouts instead.
 */
export class QsKnexClient extends ClientPG {
  constructor(config: Knex.Config) {
    super(config);
    const self = this as unknown as { connectionSettings?: Record<string, unknown> };
    // Knex deep-copies `connection`; hide the API key in its copy as pg hides `password`.
    const settings = self.connectionSettings;
    if (settings && typeof settings.apiKey === 'string') hide(settings, 'apiKey', settings.apiKey);
  }

  /** The driver module Knex talks to: `new driver.Client(connectionSettings)` creates QsClients. */
  _driver(): QsKnexDriver {
    return { Client: QsClient, types: pg.types, DatabaseError: pg.DatabaseError };
  }
}

/**
 * Types QuantaSeal connection options as Knex's `connection` (Knex's types only know pg's keys);
 * at run time it returns its argument unchanged.
 */
export function qsConnection(options: QsConnectionOptions): Knex.StaticConnectionConfig {
  return options as Knex.StaticConnectionConfig;
}
