/**
 * Knex through the live proxy with `quantaseal/knex`'s QsKnexClient; the same scenario against
 * Knex's own `pg` client proves the assertions hold for the real thing.
 */
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsKnexClient, qsConnection } from '../../src/adapters/knex.js';
import { TARGETS, type CompatEnv } from '../helpers/compat-targets.js';
import { databaseUrl } from '../helpers/pg.js';

for (const target of TARGETS) {
  describe(target.name, () => {
    let env: CompatEnv;
    let db: Knex;
    const table = () => `${env.schema}.people`;

    beforeAll(async () => {
      env = await target.open('qs_knex');
      const pool = { min: 0, max: 8 };
      db = target.proxied
        ? knex({ client: QsKnexClient, connection: qsConnection({ url: env.tenant!.url, apiKey: env.tenant!.apiKey, clientKeys: env.tenant!.clientKeysPath }), pool })
        : knex({ client: 'pg', connection: databaseUrl(), pool });
      await db.schema.withSchema(env.schema).createTable('people', (t) => {
        t.increments('id');
        t.text('email').notNullable().unique();
        t.text('name');
      });
    });
    afterAll(async () => {
      await db?.destroy();
      // destroy() ends every Knex connection, and with it every session one had opened.
      if (env?.server) expect(env.server.ctx.dataPlane.openSessions()).toBe(0);
      await env?.close();
    });

    it('CRUD', async () => {
      expect(await db(table()).insert({ email: 'ada@x.io', name: 'Ada' }).returning(['id', 'email', 'name'])).toEqual([{ id: 1, email: 'ada@x.io', name: 'Ada' }]);
      await db(table()).insert([
        { email: 'bob@x.io', name: 'Bob' },
        { email: 'cy@x.io', name: null },
      ]);
      expect(await db(table()).select('email', 'name').orderBy('id')).toEqual([
        { email: 'ada@x.io', name: 'Ada' },
        { email: 'bob@x.io', name: 'Bob' },
        { email: 'cy@x.io', name: null },
      ]);
      expect(await db(table()).where({ email: 'bob@x.io' }).update({ name: 'Robert' })).toBe(1);
      expect(await db(table()).whereNull('name').del()).toBe(1);
      expect(await db(table()).first('name').where({ id: 2 })).toEqual({ name: 'Robert' });
      expect(await db(table()).count({ n: '*' })).toEqual([{ n: '2' }]);
    });

    it('a committed transaction', async () => {
      await db.transaction(async (trx) => {
        await trx(table()).insert({ email: 'tx1@x.io', name: 'in' });
        expect(await trx(table()).where({ email: 'tx1@x.io' }).select('email')).toHaveLength(1);
      });
      expect(await db(table()).where({ email: 'tx1@x.io' }).select('email')).toHaveLength(1);
    });

    it('a rolled-back transaction', async () => {
      const err = await db
        .transaction(async (trx) => {
          await trx(table()).insert({ email: 'tx2@x.io', name: 'gone' });
          throw new Error('roll it back');
        })
        .catch((e: unknown) => e);
      expect((err as Error).message).toBe('roll it back');
      expect(await db(table()).where({ email: 'tx2@x.io' }).select('email')).toHaveLength(0);
    });

    it("a unique violation is caught by code === '23505'", async () => {
      const err = (await db(table())
        .insert({ email: 'ada@x.io', name: 'dup' })
        .catch((e: unknown) => e)) as { code?: string; constraint?: string; detail?: string };
      expect(err.code === '23505').toBe(true);
      expect(err.constraint).toBe('people_email_unique');
      expect(err.detail).toBe('Key (email)=(ada@x.io) already exists.');
    });

    it('50 concurrent queries', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => db.raw<{ rows: Array<{ n: number }> }>('SELECT ?::int AS n', [i])));
      expect(results.map((r) => r.rows[0])).toEqual(Array.from({ length: 50 }, (_, i) => ({ n: i })));
    });
  });
}
