import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { QsError } from '../protocol/errors.js';

export interface DevDatabase {
  dsn: string;
  /** What to tell a person about it (no password). */
  description: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Checks DATABASE_URL answers before anything is sealed, with an error a person can act on. */
export async function checkReachable(dsn: string): Promise<void> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    let where = 'the database';
    try {
      const u = new URL(dsn);
      where = `${u.hostname}:${u.port || 5432}${u.pathname}`;
    } catch {
      /* keep the generic name: the DSN may not even parse */
    }
    throw new QsError('QS_DB_UNAVAILABLE', `DATABASE_URL (${where}) is not reachable: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The embedded database for `quantaseal dev` without DATABASE_URL: PGlite (PostgreSQL compiled to
 * WebAssembly) persisted under the data dir and served on a loopback port by pglite-socket, so
 * the proxy talks to it over the ordinary PostgreSQL protocol like to any other server.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<DevDatabase> {
  const dir = path.join(dataDir, 'pglite');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create(dir);
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 32 });
  await server.start();
  return {
    dsn: `postgres://postgres@127.0.0.1:${port}/postgres`,
    description: `embedded PGlite in ${dir}, served on 127.0.0.1:${port}`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
