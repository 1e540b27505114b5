import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL the integration tests use (CI: the local server, user postgres, database test). */
export function databaseUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/**
 * A fresh schema name, `<prefix>_<16 hex>`. Test files run in parallel against one database,
 * so each run works in its own schema and drops it afterwards.
 */
export function tempSchemaName(prefix = 'quantaseal_test'): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** Drops a schema and everything in it (no error if it does not exist). */
export async function dropSchema(schema: string, url: string = databaseUrl()): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`refusing to drop odd schema name ${schema}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs `fn` with a fresh schema name and drops that schema afterwards, whatever happens. */
export async function withTempSchema<T>(fn: (schema: string) => Promise<T>, prefix?: string): Promise<T> {
  const schema = tempSchemaName(prefix);
  try {
    return await fn(schema);
  } finally {
    await dropSchema(schema);
  }
}
