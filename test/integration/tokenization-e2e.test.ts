import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/index.js';
import { api, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';

const schema = tempSchemaName('qs_tok');
const admin = new pg.Client({ connectionString: databaseUrl() });
let server: TestServer;
let tenant: Tenant;
let pool: QsPool;
let plainPool: QsPool;

const T = `${schema}.customers`;
const O = `${schema}.orders`;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`
    CREATE SCHEMA ${schema};
    CREATE TABLE ${T} (id serial PRIMARY KEY, email text NOT NULL UNIQUE, ssn text, name text NOT NULL);
    CREATE TABLE ${O} (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES ${T}(id), total int NOT NULL)`);
  server = await startTestServer();
  tenant = await provisionTenant(server, {
    allow: ['query', 'execute', 'transaction', 'tokenize_and_insert'],
    tokenization: {
      fields: [
        { schema, table: 'customers', column: 'email', mode: 'deterministic', detokenize: true },
        { schema, table: 'customers', column: 'ssn', mode: 'random', detokenize: true },
      ],
    },
  });
  pool = new QsPool({ url: tenant.url, apiKey: tenant.apiKey, integrationId: tenant.integrationId, clientKeys: tenant.clientKeysPath });
  // Same database, same tokenization, but results not detokenized: a reporting integration.
  const r = await api(server.url, 'POST', '/api/v2/integrations', {
    apiKey: tenant.apiKey,
    body: {
      system_type: 'postgres',
      credential_id: tenant.credentialId,
      allowed_operations: ['query'],
      tokenization: { fields: [{ schema, table: 'customers', column: 'email', mode: 'deterministic', detokenize: false }] },
    },
  });
  expect(r.status).toBe(201);
  plainPool = new QsPool({ url: tenant.url, apiKey: tenant.apiKey, integrationId: r.body.integration_id as string, clientKeys: tenant.clientKeysPath });
});
afterAll(async () => {
  await pool?.end();
  await plainPool?.end();
  await server?.dispose();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe('tokenization through QsPool', () => {
  it('the database sees only tokens; the app reads its plaintext back', async () => {
    const ins = await pool.query(`INSERT INTO ${T} (email, ssn, name) VALUES ($1, $2, $3), ($4, $5, $6) RETURNING id, email, ssn`, [
      'ada@example.com',
      '123-45-6789',
      'Ada',
      'alan@example.com',
      '987-65-4321',
      'Alan',
    ]);
    expect(ins.rows.map((r) => [r.email, r.ssn])).toEqual([
      ['ada@example.com', '123-45-6789'],
      ['alan@example.com', '987-65-4321'],
    ]);
    const direct = await admin.query(`SELECT email, ssn, name FROM ${T} ORDER BY id`);
    for (const row of direct.rows) {
      expect(row.email).toMatch(/^tok_/);
      expect(row.ssn).toMatch(/^tok_/);
    }
    expect(JSON.stringify(direct.rows)).not.toMatch(/ada@example|alan@example|123-45|987-65/);
    const all = await pool.query(`SELECT * FROM ${T} ORDER BY id`);
    expect(all.rows.map((r) => r.email)).toEqual(['ada@example.com', 'alan@example.com']);
  });

  it('WHERE =, <>, IN, = ANY and a join behave as on plaintext', async () => {
    expect((await pool.query(`SELECT name FROM ${T} WHERE email = $1`, ['ada@example.com'])).rows).toEqual([{ name: 'Ada' }]);
    expect((await pool.query(`SELECT name FROM ${T} WHERE email <> $1 ORDER BY name`, ['ada@example.com'])).rows).toEqual([{ name: 'Alan' }]);
    expect((await pool.query(`SELECT name FROM ${T} WHERE email IN ($1, $2) ORDER BY name`, ['ada@example.com', 'nobody@example.com'])).rows).toEqual([{ name: 'Ada' }]);
    expect((await pool.query(`SELECT name FROM ${T} WHERE email = ANY($1) ORDER BY name`, [['ada@example.com', 'alan@example.com']])).rows).toEqual([{ name: 'Ada' }, { name: 'Alan' }]);
    const { rows: [ada] } = await pool.query(`SELECT id FROM ${T} WHERE email = $1`, ['ada@example.com']);
    await pool.query(`INSERT INTO ${O} (customer_id, total) VALUES ($1, $2)`, [ada.id, 42]);
    const joined = await pool.query(`SELECT c.email AS who, o.total FROM ${O} o JOIN ${T} c ON c.id = o.customer_id WHERE c.email = $1`, ['ada@example.com']);
    expect(joined.rows).toEqual([{ who: 'ada@example.com', total: 42 }]);
    const selfJoin = await pool.query(`SELECT a.name FROM ${T} a JOIN ${T} b ON a.email = b.email WHERE b.email = $1`, ['alan@example.com']);
    expect(selfJoin.rows).toEqual([{ name: 'Alan' }]);
  });

  it('UPDATE and ON CONFLICT work; the unique index still catches duplicates (23505)', async () => {
    await pool.query(`UPDATE ${T} SET email = $1 WHERE email = $2`, ['ada@lovelace.example', 'ada@example.com']);
    expect((await pool.query(`SELECT name FROM ${T} WHERE email = $1`, ['ada@lovelace.example'])).rows).toEqual([{ name: 'Ada' }]);
    await pool.query(`INSERT INTO ${T} (email, name) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name`, ['alan@example.com', 'Alan Turing']);
    expect((await pool.query(`SELECT name FROM ${T} WHERE email = $1`, ['alan@example.com'])).rows).toEqual([{ name: 'Alan Turing' }]);
    const err = await pool.query(`INSERT INTO ${T} (email, name) VALUES ($1, $2)`, ['alan@example.com', 'dup']).catch((e: unknown) => e as pg.DatabaseError);
    expect(err).toBeInstanceOf(pg.DatabaseError);
    expect((err as pg.DatabaseError).code).toBe('23505');
    expect((err as pg.DatabaseError).constraint).toBe('customers_email_key');
    expect(JSON.stringify(err)).not.toContain('alan@example.com');
  });

  it('fails closed: LIKE, functions, literals and random-mode columns in WHERE are refused with the column named', async () => {
    const before = (await admin.query(`SELECT count(*)::int AS n FROM ${T}`)).rows[0].n;
    for (const [sql, params] of [
      [`SELECT name FROM ${T} WHERE email LIKE $1`, ['%@example.com']],
      [`SELECT name FROM ${T} WHERE lower(email) = $1`, ['ada@example.com']],
      [`SELECT name FROM ${T} WHERE email = 'ada@example.com'`, []],
      [`SELECT name FROM ${T} WHERE ssn = $1`, ['123-45-6789']],
      [`INSERT INTO ${T} (email, name) VALUES ('leak@example.com', 'x')`, []],
    ] as const) {
      const err = await pool.query(sql, [...params]).catch((e: unknown) => e as pg.DatabaseError & { qsCode?: string });
      expect(err, sql).toBeInstanceOf(pg.DatabaseError);
      expect((err as { qsCode?: string }).qsCode, sql).toBe('QS_TOKENIZATION_UNSUPPORTED');
      expect((err as Error).message, sql).toMatch(/customers\.(email|ssn)/);
    }
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${T}`)).rows[0].n).toBe(before);
  });

  it('tokenize_and_insert builds the INSERT itself and tokenizes configured fields', async () => {
    const r = await (await import('../helpers/proxy-server.js')).outbound(tenant, {
      operation: 'tokenize_and_insert',
      payload: { table: `${schema}.customers`, records: [{ email: 'grace@example.com', name: 'Grace', ssn: '555-00-1111' }], returning: ['id', 'email'] },
    });
    const result = (r.payload as { results: Array<{ rows: unknown[][] }> }).results[0];
    expect(result?.rows[0]?.[1]).toBe('grace@example.com');
    const direct = await admin.query(`SELECT email, ssn FROM ${T} WHERE name = 'Grace'`);
    expect(direct.rows[0].email).toMatch(/^tok_/);
    expect(direct.rows[0].ssn).toMatch(/^tok_/);
  });

  it('without detokenize the token stays in the result', async () => {
    const { rows } = await plainPool.query(`SELECT email FROM ${T} WHERE email = $1`, ['grace@example.com']);
    expect(rows).toHaveLength(1);
    expect(rows[0].email).toMatch(/^tok_/);
  });
});
