// Drizzle's node-postgres driver on QsPool.
import './dev-env.js';
import { desc, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { QsPool } from 'quantaseal';

const products = pgTable('example_products', { id: serial('id').primaryKey(), name: text('name').notNull(), stock: integer('stock').notNull() });
const pool = new QsPool();
const db = drizzle(pool);
await db.execute(sql`CREATE TABLE IF NOT EXISTS example_products (id serial PRIMARY KEY, name text NOT NULL, stock int NOT NULL)`);
await db.insert(products).values([{ name: 'lattice', stock: 7 }, { name: 'module', stock: 3 }]);
await db.transaction(async (tx) => {
  await tx.update(products).set({ stock: 0 }).where(sql`${products.name} = 'module'`);
});
console.log(await db.select().from(products).orderBy(desc(products.id)).limit(4));
await pool.end();
