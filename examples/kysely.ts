// Kysely on QsPool: PostgresDialect takes the pool as it would take a pg.Pool.
import './dev-env.js';
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import { QsPool } from 'quantaseal';

interface DB {
  example_orders: { id: Generated<number>; item: string; qty: number };
}

const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new QsPool() }) });
await sql`CREATE TABLE IF NOT EXISTS example_orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL)`.execute(db);
await db.transaction().execute(async (tx) => {
  await tx.insertInto('example_orders').values({ item: 'qubit', qty: 2 }).execute();
  await tx.updateTable('example_orders').set({ qty: 3 }).where('item', '=', 'qubit').execute();
});
console.log(await db.selectFrom('example_orders').selectAll().orderBy('id', 'desc').limit(3).execute());
await db.destroy();
