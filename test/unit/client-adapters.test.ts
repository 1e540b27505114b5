import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { eq } from 'drizzle-orm';
import knex from 'knex';
import { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QsKnexClient, qsConnection } from '../../src/adapters/knex.js';
import { QsDialect } from '../../src/adapters/kysely.js';
import { QsPool } from '../../src/client/qs-pool.js';
import type { OutboundRequest, WireResult } from '../../src/protocol/wire.js';
import { field, selectResult, startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

const status = (command: string): WireResult => ({ command, rowCount: null, oid: null, fields: [], rows: [] });

/** A tiny scripted "database": version(), SET/BEGIN/COMMIT tags, and one users row for anything else. */
function database(req: OutboundRequest) {
  const sql = (req.payload as { sql: string }).sql;
  if (/version\(\)/.test(sql)) return { results: [selectResult([field('version', 25)], [['PostgreSQL 16.4 on x86_64-pc-linux-gnu']])] };
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  if (['SET', 'BEGIN', 'COMMIT', 'ROLLBACK'].includes(verb)) return { results: [status(verb)] };
  return { results: [selectResult([field('id', 23), field('name', 25)], [['1', 'ada']])] };
}

describe('ORM adapters', () => {
  let proxy: FakeProxy;
  let conn: { url: string; apiKey: string; clientKeys: string };
  beforeAll(async () => {
    proxy = await startFakeProxy({ handler: database });
    conn = { url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath };
  });
  beforeEach(() => {
    proxy.requests.length = 0;
  });
  afterAll(() => proxy.close());

  const trail = () => proxy.requests.map((r) => [r.operation, r.session_id === 'new' ? 'new' : r.session_id ? 'ses' : null, (r.payload as { sql?: string; action?: string }).sql ?? (r.payload as { action?: string }).action]);

  it('Knex: a connection runs sessionless until search_path pins a session, which destroy closes', async () => {
    const db = knex({ client: QsKnexClient, connection: qsConnection(conn), searchPath: ['app'], pool: { min: 0, max: 1 } });
    expect(await db('users').select('*').where({ id: 1 })).toEqual([{ id: 1, name: 'ada' }]);
    await db.transaction(async (trx) => {
      await trx('users').select('id');
    });
    await db.destroy();
    expect(trail()).toEqual([
      ['query', null, 'select version();'],
      ['transaction', 'new', 'set search_path to "app"'],
      ['query', 'ses', 'select * from "users" where "id" = $1'],
      ['transaction', 'ses', 'BEGIN;'],
      ['query', 'ses', 'select "id" from "users"'],
      ['transaction', 'ses', 'COMMIT;'],
      ['transaction', 'ses', 'close'],
    ]);
    expect(proxy.sessions.size).toBe(0);
  });

  it('Kysely: QsDialect runs a plain query in one sessionless request, a transaction on a session', async () => {
    const db = new Kysely<{ users: { id: number; name: string } }>({ dialect: new QsDialect({ qs: conn }) });
    expect(await db.selectFrom('users').selectAll().execute()).toEqual([{ id: 1, name: 'ada' }]);
    await db.transaction().execute(async (trx) => trx.selectFrom('users').select('id').execute());
    await db.destroy();
    expect(trail()).toEqual([
      ['query', null, 'select * from "users"'],
      ['transaction', 'new', 'begin'],
      ['query', 'ses', 'select "id" from "users"'],
      ['transaction', 'ses', 'commit'],
      ['transaction', 'ses', 'close'],
    ]);
    expect(proxy.sessions.size).toBe(0);
  });

  it('Drizzle: node-postgres over a QsPool (config + values form, rowMode array, custom types)', async () => {
    const users = pgTable('users', { id: integer('id').primaryKey(), name: text('name') });
    const pool = new QsPool(conn);
    const db = drizzle(pool);
    expect(await db.select().from(users).where(eq(users.id, 1))).toEqual([{ id: 1, name: 'ada' }]);
    await pool.end();
    expect(trail()).toEqual([['query', null, 'select "id", "name" from "users" where "users"."id" = $1']]);
    expect(proxy.requests[0]!.payload).toMatchObject({ params: ['1'] });
  });
});
