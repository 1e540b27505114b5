import pg from 'pg';
import { QsPool, type QsPoolConfig } from '../../src/client/qs-pool.js';
import { databaseUrl, dropSchema, tempSchemaName } from './pg.js';
import { provisionTenant, startTestServer, type Tenant, type TestServer } from './proxy-server.js';

/** The operations a compat integration allows: everything an ORM or a pg app sends. */
export const COMPAT_ALLOW = ['query', 'execute', 'transaction', 'ddl'];

/** One thing the compat suites run against: a pool plus the schema that is its own. */
export interface CompatEnv {
  /** A fresh schema, created empty; dropped by `close()`. */
  schema: string;
  /** Make a pool (direct pg, or QsPool through the live proxy) with extra pg.Pool options. */
  makePool(options?: Partial<pg.PoolConfig & QsPoolConfig>): pg.Pool;
  /** The live proxy (QsPool target only). */
  server?: TestServer;
  tenant?: Tenant;
  /** Ends every pool made here, stops the server, drops the schema. */
  close(): Promise<void>;
}

/** A way of reaching PostgreSQL: the reference (`pg.Pool`) or the system under test (`QsPool`). */
export interface CompatTarget {
  name: 'direct pg' | 'QsPool via proxy';
  /** True for the QuantaSeal target. */
  proxied: boolean;
  open(schemaPrefix: string): Promise<CompatEnv>;
}

async function createSchema(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await admin.end();
  }
}

function closer(pools: pg.Pool[], schema: string, server?: TestServer) {
  return async () => {
    await Promise.all(pools.map((p) => (p.ended ? undefined : p.end())));
    await server?.dispose();
    await dropSchema(schema);
  };
}

/** Direct `pg.Pool` on DATABASE_URL. */
export const DIRECT_PG: CompatTarget = {
  name: 'direct pg',
  proxied: false,
  async open(prefix) {
    const schema = tempSchemaName(prefix);
    await createSchema(schema);
    const pools: pg.Pool[] = [];
    return {
      schema,
      makePool(options = {}) {
        const pool = new pg.Pool({ connectionString: databaseUrl(), ...(options as pg.PoolConfig) });
        pools.push(pool);
        return pool;
      },
      close: closer(pools, schema),
    };
  },
};

/** `QsPool` through a real proxy server started in-process on 127.0.0.1:0. */
export const QS_POOL: CompatTarget = {
  name: 'QsPool via proxy',
  proxied: true,
  async open(prefix) {
    const schema = tempSchemaName(prefix);
    await createSchema(schema);
    const server = await startTestServer();
    const tenant = await provisionTenant(server, { allow: COMPAT_ALLOW });
    const pools: pg.Pool[] = [];
    return {
      schema,
      server,
      tenant,
      makePool(options = {}) {
        const pool = new QsPool({ url: tenant.url, apiKey: tenant.apiKey, clientKeys: tenant.clientKeysPath, ...(options as QsPoolConfig) });
        pools.push(pool);
        return pool;
      },
      close: closer(pools, schema, server),
    };
  },
};

/** Reference first: suites compare the proxied target's results with what direct pg gave. */
export const TARGETS: readonly CompatTarget[] = [DIRECT_PG, QS_POOL];
