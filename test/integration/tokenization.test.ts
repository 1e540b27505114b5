import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import type { SqlStatement, WireResult } from '../../src/protocol/wire.js';
import { Executor } from '../../src/server/executor/executor.js';
import { openStore } from '../../src/server/store/open-store.js';
import type { IntegrationRecord, Store, TokenizationField } from '../../src/server/store/store.js';
import { createTokenization, type TokenizationModule } from '../../src/server/tokenize/tokenization.js';

const DSN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const suffix = randomBytes(4).toString('hex');
const S = `qs_tok_${suffix}`;
const TENANT = 'ten_tok_a';
const OTHER_TENANT = 'ten_tok_b';
const storeFile = join(tmpdir(), `qs-tok-${suffix}.sqlite`);

const FIELDS: TokenizationField[] = [
  { schema: S, table: 'people', column: 'email', mode: 'deterministic', detokenize: true },
  { schema: S, table: 'people', column: 'ssn', mode: 'random', detokenize: true },
  { schema: S, table: 'people', column: 'code', mode: 'deterministic', detokenize: true },
  { schema: S, table: 'people', column: 'phone', mode: 'deterministic', detokenize: false },
  { schema: S, table: 'notes', column: 'author_email', mode: 'deterministic', detokenize: true },
];

let admin: pg.Client;
let executor: Executor;
let store: Store;
let tok: TokenizationModule;

const secrets = new Map([
  [TENANT, new Uint8Array(randomBytes(64))],
  [OTHER_TENANT, new Uint8Array(randomBytes(64))],
]);

function integration(fields = FIELDS, id = `int_tok_${suffix}`): IntegrationRecord {
  return {
    id,
    tenantId: TENANT,
    name: null,
    systemType: 'postgres',
    credentialId: `cred_tok_${suffix}`,
    allowedOperations: ['query', 'execute', 'tokenize_and_insert'],
    tokenization: { fields },
    limits: {},
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}
const INTEGRATION = integration();

/** Runs statements the way the data plane does: through the executor, raw wire results back. */
async function run(statement: SqlStatement, mode: 'read' | 'write' = 'write'): Promise<WireResult[]> {
  const { results } = await executor.run({
    target: { integrationId: INTEGRATION.id, credentialId: INTEGRATION.credentialId, credentialVersion: 1, getDsn: async () => DSN, limits: {} },
    mode,
    statements: [statement],
    batch: false,
  });
  return results;
}

/** tokenize → execute → detokenize, as the data plane's pipeline does. */
async function through(statement: SqlStatement, tenantId = TENANT, rec = INTEGRATION): Promise<WireResult[]> {
  const tokenized = await tok.tokenizeParams(tenantId, rec, statement);
  return tok.detokenizeResults(tenantId, rec, await run(tokenized));
}

function rowsAsObjects(result: WireResult | undefined): Array<Record<string, string | null>> {
  if (result === undefined) throw new Error('no result');
  return result.rows.map((row) => Object.fromEntries(result.fields.map((f, i) => [f.name, row[i] ?? null])));
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as { code?: string; message: string },
  );
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: DSN });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${S}`);
  await admin.query(`CREATE TABLE ${S}.people (
    id int PRIMARY KEY, name text, age int, email text UNIQUE, ssn varchar(200), code char(80), phone text)`);
  await admin.query(`CREATE TABLE ${S}.notes (id int PRIMARY KEY, person_id int REFERENCES ${S}.people(id), body text, author_email text)`);
  executor = new Executor({ poolOptions: { max: 2 } });
  store = await openStore(`sqlite:${storeFile}`);
  tok = createTokenization({
    store,
    tenantKeys: { tokenKey: async (tenantId) => ({ keyId: `token_${tenantId}`, secretKey: secrets.get(tenantId) ?? new Uint8Array(64) }) },
    vault: { currentVersion: async () => 1, unsealDsn: async () => ({ dsn: DSN, version: 1 }) },
    executor,
  });
});

afterAll(async () => {
  await executor?.close();
  await store?.close();
  rmSync(storeFile, { force: true });
  for (const ext of ['-wal', '-shm']) rmSync(storeFile + ext, { force: true });
  await admin?.query(`DROP SCHEMA IF EXISTS ${S} CASCADE`);
  await admin?.end();
});

describe('tokenization against PostgreSQL', () => {
  it('checkCatalog accepts text columns and refuses missing, non-text and unknown-table fields', async () => {
    await tok.checkCatalog(TENANT, INTEGRATION.credentialId, FIELDS);
    const check = (f: Partial<TokenizationField>) =>
      failure(tok.checkCatalog(TENANT, INTEGRATION.credentialId, [{ schema: S, table: 'people', column: 'email', mode: 'deterministic', detokenize: true, ...f }]));
    for (const [f, phrase] of [
      [{ column: 'nope' }, 'column "nope" does not exist'],
      [{ column: 'age' }, 'type int4'],
      [{ table: 'ghosts' }, `table ${S}.ghosts does not exist`],
    ] as const) {
      const err = await check(f);
      expect(isQsError(err) && err.code === 'QS_TOKENIZATION_CONFIG').toBe(true);
      expect(err.message).toContain(phrase);
    }
  });

  it('stores only tokens and reads the plaintext back (SELECT *, aliases, RETURNING)', async () => {
    const inserted = await through({
      sql: `INSERT INTO ${S}.people (id, name, email, ssn, code, phone) VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12) RETURNING id, email, ssn`,
      params: ['1', 'Alice', 'alice@example.com', '123-45-6789', 'A-1', '+1 555 0100', '2', 'Bob', 'bob@example.com', null, 'B-2', null],
    });
    expect(rowsAsObjects(inserted[0])).toEqual([
      { id: '1', email: 'alice@example.com', ssn: '123-45-6789' },
      { id: '2', email: 'bob@example.com', ssn: null },
    ]);

    const direct = await admin.query(`SELECT row_to_json(p)::text AS j, email, ssn, code, phone FROM ${S}.people p ORDER BY id`);
    for (const row of direct.rows as Array<Record<string, string | null>>) {
      for (const secret of ['alice@example.com', 'bob@example.com', '123-45-6789', 'A-1', 'B-2', '555']) expect(row.j).not.toContain(secret);
    }
    expect(direct.rows[0].email).toMatch(/^tok_d1/);
    expect(direct.rows[0].ssn).toMatch(/^tok_r1/);
    expect(direct.rows[0].code).toMatch(/^tok_d1\S+ +$/);

    const all = rowsAsObjects((await through({ sql: `SELECT * FROM ${S}.people ORDER BY id` }))[0]);
    expect(all[0]).toMatchObject({ id: '1', name: 'Alice', email: 'alice@example.com', ssn: '123-45-6789', code: 'A-1' });
    // detokenize: false leaves the token.
    expect(all[0]?.phone).toBe(direct.rows[0].phone);
    expect(all[0]?.phone).toMatch(/^tok_d1/);
    expect(all[1]).toMatchObject({ id: '2', email: 'bob@example.com', ssn: null });

    const aliased = rowsAsObjects((await through({ sql: `SELECT p.email AS e, upper(p.name) AS n FROM ${S}.people AS p WHERE p.id = $1`, params: ['1'] }))[0]);
    expect(aliased).toEqual([{ e: 'alice@example.com', n: 'ALICE' }]);
  });

  it('finds rows by a tokenized parameter: =, IN, = ANY(array), and joins', async () => {
    const eq = await through({ sql: `SELECT id FROM ${S}.people WHERE email = $1`, params: ['alice@example.com'] });
    expect(eq[0]?.rows).toEqual([['1']]);
    const inList = await through({ sql: `SELECT id FROM ${S}.people WHERE email IN ($1, $2) ORDER BY id`, params: ['alice@example.com', 'bob@example.com'] });
    expect(inList[0]?.rows).toEqual([['1'], ['2']]);
    const any = await through({ sql: `SELECT id, email FROM ${S}.people WHERE email = ANY($1) ORDER BY id`, params: ['{"bob@example.com","nobody@example.com",NULL}'] });
    expect(any[0]?.rows).toEqual([['2', 'bob@example.com']]);

    await through({
      sql: `INSERT INTO ${S}.notes (id, person_id, body, author_email) VALUES ($1, $2, $3, $4)`,
      params: ['10', '1', 'hello', 'bob@example.com'],
    });
    const joined = await through({
      sql: `SELECT p.email, n.author_email, n.body FROM ${S}.people p JOIN ${S}.notes n ON n.person_id = p.id WHERE p.email = $1`,
      params: ['alice@example.com'],
    });
    expect(rowsAsObjects(joined[0])).toEqual([{ email: 'alice@example.com', author_email: 'bob@example.com', body: 'hello' }]);
  });

  it('keeps a unique index on a deterministic column working (23505)', async () => {
    const err = await failure(through({ sql: `INSERT INTO ${S}.people (id, email) VALUES ($1, $2)`, params: ['3', 'alice@example.com'] }));
    expect(err.code).toBe('23505');
  });

  it('gives random-mode values fresh tokens each time and reads them back from the vault', async () => {
    await through({ sql: `UPDATE ${S}.people SET ssn = $1 WHERE id = $2`, params: ['123-45-6789', '2'] });
    const { rows } = await admin.query(`SELECT ssn FROM ${S}.people ORDER BY id`);
    expect(rows[0].ssn).not.toBe(rows[1].ssn);
    const back = await through({ sql: `SELECT id, ssn FROM ${S}.people ORDER BY id` });
    expect(back[0]?.rows).toEqual([
      ['1', '123-45-6789'],
      ['2', '123-45-6789'],
    ]);
  });

  it('refuses what it cannot tokenize, before anything reaches the database', async () => {
    const like = await failure(tok.tokenizeParams(TENANT, INTEGRATION, { sql: `SELECT id FROM ${S}.people WHERE email LIKE $1`, params: ['%@example.com'] }));
    expect(isQsError(like) && like.code === 'QS_TOKENIZATION_UNSUPPORTED').toBe(true);
    const literal = await failure(tok.tokenizeParams(TENANT, INTEGRATION, { sql: `SELECT id FROM ${S}.people WHERE email = 'alice@example.com'`, params: [] }));
    expect(isQsError(literal) && literal.code === 'QS_TOKENIZATION_UNSUPPORTED').toBe(true);
    const badArray = await failure(tok.tokenizeParams(TENANT, INTEGRATION, { sql: `SELECT id FROM ${S}.people WHERE email = ANY($1)`, params: ['not an array'] }));
    expect(isQsError(badArray) && badArray.code === 'QS_TOKENIZATION_UNSUPPORTED').toBe(true);
  });

  it('fails closed on a value that is not a token of this tenant and column', async () => {
    await admin.query(`INSERT INTO ${S}.people (id, email) VALUES (90, 'plain@example.com')`);
    const plain = await failure(through({ sql: `SELECT email FROM ${S}.people WHERE id = 90` }));
    expect(isQsError(plain) && plain.code === 'QS_TOKEN_UNKNOWN').toBe(true);
    expect(plain.message).not.toContain('plain@example.com');
    await admin.query(`DELETE FROM ${S}.people WHERE id = 90`);

    // Another tenant's key does not open this tenant's tokens.
    const other = await failure(tok.detokenizeResults(OTHER_TENANT, INTEGRATION, await run({ sql: `SELECT email FROM ${S}.people WHERE id = 1` })));
    expect(isQsError(other) && other.code === 'QS_TOKEN_UNKNOWN').toBe(true);
  });

  it('tokenize_and_insert builds one quoted, catalog-checked INSERT', async () => {
    const { statement, fingerprint } = await tok.insertRecords(TENANT, INTEGRATION, {
      table: `${S}.people`,
      records: [
        { id: 20, name: 'Carol', email: 'carol@example.com', age: 41 },
        { id: 21, name: null, email: 'dan@example.com', age: 33 },
      ],
      returning: ['id', 'email'],
    });
    expect(statement.sql).toBe(`INSERT INTO "${S}"."people" ("id","name","email","age") VALUES ($1,$2,$3,$4),($5,$6,$7,$8) RETURNING "id","email"`);
    expect(statement.params?.[2]).toMatch(/^tok_d1/);
    expect(statement.params?.slice(0, 2)).toEqual(['20', 'Carol']);
    expect(fingerprint).toMatch(/^[0-9a-f]+$/);
    const results = await tok.detokenizeResults(TENANT, INTEGRATION, await run(statement));
    expect(results[0]?.rows).toEqual([
      ['20', 'carol@example.com'],
      ['21', 'dan@example.com'],
    ]);
    const found = await through({ sql: `SELECT age FROM ${S}.people WHERE email = $1`, params: ['dan@example.com'] });
    expect(found[0]?.rows).toEqual([['33']]);

    for (const [payload, code, phrase] of [
      [{ table: `${S}.people`, records: [{ id: 30, nope: 'x' }] }, 'QS_NOT_FOUND', 'column "nope"'],
      [{ table: `${S}.ghosts`, records: [{ id: 30 }] }, 'QS_NOT_FOUND', `table ${S}.ghosts`],
      [{ table: `${S}.people`, records: [{ id: 30 }], returning: ['nope'] }, 'QS_NOT_FOUND', 'column "nope"'],
      [{ table: `${S}.people; DROP TABLE x`, records: [{ id: 30 }] }, 'QS_INVALID_REQUEST', 'payload.table'],
      [{ table: `${S}.people`, records: [{ 'id"); --': 30 }] }, 'QS_INVALID_REQUEST', 'not a valid column name'],
      [{ table: `${S}.people`, records: [{ id: 30 }, { id: 31, name: 'x' }] }, 'QS_INVALID_REQUEST', 'exactly the columns'],
      [{ table: `${S}.people`, records: [] }, 'QS_INVALID_REQUEST', 'payload.records'],
      [{ table: `${S}.people`, records: [{ id: { x: 1 } }] }, 'QS_INVALID_REQUEST', 'must be a string'],
      [{ table: `${S}.people`, records: [{ id: 30 }], extra: true }, 'QS_INVALID_REQUEST', 'unknown property'],
    ] as const) {
      const err = await failure(tok.insertRecords(TENANT, INTEGRATION, payload));
      expect(isQsError(err) && err.code === code, `${JSON.stringify(payload)}: ${err.message}`).toBe(true);
      expect(err.message).toContain(phrase);
    }
  });

  it('follows a table dropped and recreated (new oid) and a column added after the first read', async () => {
    const rec = integration(
      [{ schema: S, table: 'recreated', column: 'email', mode: 'deterministic', detokenize: true }],
      `int_tok_re_${suffix}`,
    );
    await admin.query(`CREATE TABLE ${S}.recreated (id int, email text)`);
    await through({ sql: `INSERT INTO ${S}.recreated (id, email) VALUES ($1, $2)`, params: ['1', 'eve@example.com'] }, TENANT, rec);
    expect((await through({ sql: `SELECT email FROM ${S}.recreated` }, TENANT, rec))[0]?.rows).toEqual([['eve@example.com']]);

    await admin.query(`DROP TABLE ${S}.recreated`);
    await admin.query(`CREATE TABLE ${S}.recreated (pad int, id int, email text)`);
    await through({ sql: `INSERT INTO ${S}.recreated (id, email) VALUES ($1, $2)`, params: ['2', 'frank@example.com'] }, TENANT, rec);
    expect((await through({ sql: `SELECT id, email FROM ${S}.recreated` }, TENANT, rec))[0]?.rows).toEqual([['2', 'frank@example.com']]);

    await admin.query(`ALTER TABLE ${S}.recreated DROP COLUMN email`);
    await admin.query(`ALTER TABLE ${S}.recreated ADD COLUMN email text`);
    await through({ sql: `UPDATE ${S}.recreated SET email = $1`, params: ['gina@example.com'] }, TENANT, rec);
    expect((await through({ sql: `SELECT email FROM ${S}.recreated` }, TENANT, rec))[0]?.rows).toEqual([['gina@example.com']]);
  });
});
