// Knex with the QuantaSeal client: connections are QsClients talking to the proxy.
import './dev-env.js';
import knex from 'knex';
import { QsKnexClient, qsConnection } from 'quantaseal/knex';

const db = knex({ client: QsKnexClient, connection: qsConnection({}), pool: { min: 0, max: 4 } });
if (!(await db.schema.hasTable('example_people'))) {
  await db.schema.createTable('example_people', (t) => {
    t.increments('id');
    t.string('name').notNullable().unique();
  });
}
await db('example_people').insert({ name: `ada-${Date.now()}` });
try {
  await db('example_people').insert({ name: (await db('example_people').first('name'))?.name });
} catch (err) {
  console.log('duplicate refused by PostgreSQL:', (err as { code?: string }).code);
}
console.log(await db('example_people').select('*').orderBy('id', 'desc').limit(3));
await db.destroy();
