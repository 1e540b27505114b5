/**
 * Drizzle's node-postgres driver over a QsPool through the live proxy; the same scenario over a
 * plain pg.Pool proves the assertions hold for the real thing.
 */
import { asc, eq, isNull, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { integer, pgSchema, serial, text } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARGETS, type CompatEnv } from '../helpers/compat-targets.js';

/** Drizzle wraps driver errors in DrizzleQueryError; the pg error is its `cause`. */
function pgError(err: unknown): { code?: string; constraint?: string; detail?: string } {
  return ((err as { cause?: unknown }).cause ?? err) as { code?: string; constraint?: string; detail?: string };
}

for (const target of TARGETS) {
  describe(target.name, () => {
    let env: CompatEnv;
    let pool: pg.Pool;
    let db: NodePgDatabase;
    let people: ReturnType<typeof peopleTable>;

    function peopleTable(schema: string) {
      return pgSchema(schema).table('people', {
        id: serial('id').primaryKey(),
        email: text('email').notNull().unique(),
        name: text('name'),
        age: integer('age'),
      });
    }

    beforeAll(async () => {
      env = await target.open('qs_drizzle');
      pool = env.makePool({ max: 8 });
      db = drizzle(pool);
      people = peopleTable(env.schema);
      await db.execute(sql.raw(`CREATE TABLE "${env.schema}".people (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, age int)`));
    });
    afterAll(async () => {
      await pool?.end();
      if (env?.server) expect(env.server.ctx.dataPlane.openSessions()).toBe(0);
      await env?.close();
    });

    it('CRUD', async () => {
      expect(await db.insert(people).values({ email: 'ada@x.io', name: 'Ada', age: 36 }).returning()).toEqual([{ id: 1, email: 'ada@x.io', name: 'Ada', age: 36 }]);
      await db.insert(people).values([
        { email: 'bob@x.io', name: 'Bob' },
        { email: 'cy@x.io', name: null },
      ]);
      expect(await db.select({ email: people.email, name: people.name }).from(people).orderBy(asc(people.id))).toEqual([
        { email: 'ada@x.io', name: 'Ada' },
        { email: 'bob@x.io', name: 'Bob' },
        { email: 'cy@x.io', name: null },
      ]);
      const updated = await db.update(people).set({ name: 'Robert' }).where(eq(people.email, 'bob@x.io'));
      expect(updated.rowCount).toBe(1);
      const deleted = await db.delete(people).where(isNull(people.name)).returning({ email: people.email });
      expect(deleted).toEqual([{ email: 'cy@x.io' }]);
      // Drizzle's query builder asks for rowMode 'array' and maps by position.
      expect(await db.select().from(people).where(eq(people.id, 2))).toEqual([{ id: 2, email: 'bob@x.io', name: 'Robert', age: null }]);
    });

    it('a committed transaction', async () => {
      await db.transaction(async (tx) => {
        await tx.insert(people).values({ email: 'tx1@x.io', name: 'in' });
        expect(await tx.select().from(people).where(eq(people.email, 'tx1@x.io'))).toHaveLength(1);
      });
      expect(await db.select().from(people).where(eq(people.email, 'tx1@x.io'))).toHaveLength(1);
    });

    it('a rolled-back transaction', async () => {
      const err = await db
        .transaction(async (tx) => {
          await tx.insert(people).values({ email: 'tx2@x.io', name: 'gone' });
          tx.rollback();
        })
        .catch((e: unknown) => e);
      expect((err as Error).constructor.name).toBe('TransactionRollbackError');
      expect(await db.select().from(people).where(eq(people.email, 'tx2@x.io'))).toHaveLength(0);
    });

    it("a unique violation is caught by code === '23505'", async () => {
      const err = pgError(await db.insert(people).values({ email: 'ada@x.io', name: 'dup' }).catch((e: unknown) => e));
      expect(err.code === '23505').toBe(true);
      expect(err.constraint).toBe('people_email_key');
      expect(err.detail).toBe('Key (email)=(ada@x.io) already exists.');
    });

    it('50 concurrent queries', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => db.select({ email: people.email, n: sql<number>`${i}::int` }).from(people).where(eq(people.id, 1))));
      expect(results).toEqual(Array.from({ length: 50 }, (_, i) => [{ email: 'ada@x.io', n: i }]));
    });
  });
}
