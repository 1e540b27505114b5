/**
 * Kysely through the live proxy: QsDialect, and Kysely's own PostgresDialect over a QsPool; the
 * same scenario against direct pg proves the assertions hold for the real thing.
 */
import { Kysely, PostgresDialect, sql, type Dialect, type Generated } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsDialect } from '../../src/adapters/kysely.js';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import type { OutboundRequest } from '../../src/protocol/wire.js';
import { TARGETS, type CompatEnv } from '../helpers/compat-targets.js';

interface People {
  id: Generated<number>;
  email: string;
  name: string | null;
}
type DB = Record<string, People>;

interface Variant {
  name: string;
  dialect(env: CompatEnv): Dialect;
}

const VARIANTS: Record<string, Variant[]> = {
  'direct pg': [{ name: 'PostgresDialect over pg.Pool', dialect: (env) => new PostgresDialect({ pool: env.makePool() }) }],
  'QsPool via proxy': [
    {
      name: 'QsDialect',
      dialect: (env) => new QsDialect({ qs: { url: env.tenant!.url, apiKey: env.tenant!.apiKey, clientKeys: env.tenant!.clientKeysPath } }),
    },
    { name: 'PostgresDialect over QsPool', dialect: (env) => new PostgresDialect({ pool: env.makePool() }) },
  ],
};

for (const target of TARGETS) {
  describe(target.name, () => {
    let env: CompatEnv;
    beforeAll(async () => {
      env = await target.open('qs_kysely');
    });
    afterAll(() => env?.close());

    VARIANTS[target.name]!.forEach((variant, index) => {
      describe(variant.name, () => {
        let db: Kysely<DB>;
        const table = `people_${index}`;
        const people = () => db.withSchema(env.schema).selectFrom(table);

        beforeAll(async () => {
          const dialect = variant.dialect(env);
          db = new Kysely<DB>({ dialect });
          await db.schema
            .withSchema(env.schema)
            .createTable(table)
            .addColumn('id', 'serial', (c) => c.primaryKey())
            .addColumn('email', 'text', (c) => c.notNull().unique())
            .addColumn('name', 'text')
            .execute();
        });
        afterAll(async () => {
          await db?.destroy();
          // Every session a Kysely client opened was closed on release / destroy.
          if (env.server) expect(env.server.ctx.dataPlane.openSessions()).toBe(0);
        });

        it('CRUD', async () => {
          const inserted = await db.withSchema(env.schema).insertInto(table).values({ email: 'ada@x.io', name: 'Ada' }).returning(['id', 'email', 'name']).executeTakeFirstOrThrow();
          expect(inserted).toEqual({ id: 1, email: 'ada@x.io', name: 'Ada' });
          await db.withSchema(env.schema).insertInto(table).values([{ email: 'bob@x.io', name: 'Bob' }, { email: 'cy@x.io', name: null }]).execute();
          expect(await people().select(['email', 'name']).orderBy('id').execute()).toEqual([
            { email: 'ada@x.io', name: 'Ada' },
            { email: 'bob@x.io', name: 'Bob' },
            { email: 'cy@x.io', name: null },
          ]);
          const updated = await db.withSchema(env.schema).updateTable(table).set({ name: 'Robert' }).where('email', '=', 'bob@x.io').executeTakeFirst();
          expect(updated.numUpdatedRows).toBe(1n);
          const deleted = await db.withSchema(env.schema).deleteFrom(table).where('name', 'is', null).executeTakeFirst();
          expect(deleted.numDeletedRows).toBe(1n);
          expect(await people().select('name').orderBy('id').execute()).toEqual([{ name: 'Ada' }, { name: 'Robert' }]);
        });

        it('a committed transaction', async () => {
          await db.transaction().execute(async (trx) => {
            await trx.withSchema(env.schema).insertInto(table).values({ email: 'tx1@x.io', name: 'in' }).execute();
            // Read-your-writes inside the transaction: the same connection.
            const seen = await trx.withSchema(env.schema).selectFrom(table).select('email').where('email', '=', 'tx1@x.io').execute();
            expect(seen).toHaveLength(1);
          });
          expect(await people().select('email').where('email', '=', 'tx1@x.io').execute()).toHaveLength(1);
        });

        it('a rolled-back transaction', async () => {
          const err = await db
            .transaction()
            .execute(async (trx) => {
              await trx.withSchema(env.schema).insertInto(table).values({ email: 'tx2@x.io', name: 'gone' }).execute();
              throw new Error('roll it back');
            })
            .catch((e: unknown) => e);
          expect((err as Error).message).toBe('roll it back');
          expect(await people().select('email').where('email', '=', 'tx2@x.io').execute()).toHaveLength(0);
        });

        it("a unique violation is caught by code === '23505'", async () => {
          const err = (await db
            .withSchema(env.schema)
            .insertInto(table)
            .values({ email: 'ada@x.io', name: 'dup' })
            .execute()
            .catch((e: unknown) => e)) as { code?: string; constraint?: string; detail?: string };
          expect(err.code === '23505').toBe(true);
          expect(err.constraint).toBe(`${table}_email_key`);
          expect(err.detail).toBe('Key (email)=(ada@x.io) already exists.');
        });

        it('50 concurrent queries', async () => {
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              sql<{ n: number; email: string | null }>`SELECT ${i}::int AS n, (SELECT email FROM ${sql.table(`${env.schema}.${table}`)} WHERE id = 1) AS email`.execute(db),
            ),
          );
          expect(results.map((r) => r.rows[0])).toEqual(Array.from({ length: 50 }, (_, i) => ({ n: i, email: 'ada@x.io' })));
        });
      });
    });

    if (target.proxied) {
      it('a plain Kysely query costs one proxy request; a transaction opens and closes one session', async () => {
        const inner = httpTransport(new URL(env.tenant!.url).origin);
        const sent: OutboundRequest[] = [];
        const counting: QsTransport = {
          request(req) {
            if (req.body) sent.push(JSON.parse(req.body.toString('utf8')) as OutboundRequest);
            return inner.request(req);
          },
        };
        const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: env.makePool({ transport: counting }) }) });
        await db.selectNoFrom(sql<number>`1`.as('one')).execute();
        expect(sent.map((r) => r.session_id ?? null)).toEqual([null]);
        await db.transaction().execute((trx) => trx.selectNoFrom(sql<number>`2`.as('two')).execute());
        await db.destroy();
        // BEGIN opens the session in its own round trip; the SELECT and COMMIT reuse it; release closes it.
        expect(sent.map((r) => (r.session_id === 'new' ? 'new' : r.session_id ? 'ses' : null))).toEqual([null, 'new', 'ses', 'ses', 'ses']);
        expect(sent.at(-1)!.payload).toEqual({ action: 'close' });
        expect(env.server!.ctx.dataPlane.openSessions()).toBe(0);
      });
    }
  });
}
