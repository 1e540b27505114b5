/**
 * The drop-in claim, measured: one suite run against direct `pg.Pool` and against `QsPool`
 * through a live proxy. Every case runs on both; the reference (direct pg) result is recorded and
 * the proxied one must be `toStrictEqual` to it — rows, fields, command, rowCount, oid, rowAsArray,
 * and for errors every pg-visible field (code, constraint, detail, table, schema, …).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import { TARGETS, type CompatEnv, type CompatTarget } from '../helpers/compat-targets.js';

interface Ctx {
  pool: pg.Pool;
  /** The target's schema, quoted for SQL. */
  s: string;
  env: CompatEnv;
}

interface Case {
  name: string;
  run(ctx: Ctx): Promise<unknown>;
  /** Set for cases that must fail: both targets must throw a pg DatabaseError. */
  error?: true;
  /**
   * A known difference, named so it cannot hide: these error fields are compared loosely (the
   * proxied message must start with pg's) instead of strictly.
   */
  gap?: { fields: Array<'message' | 'position'>; why: string };
  /** The proxy's refusal code the proxied error must carry; a PostgreSQL error carries none. */
  qsCode?: string;
}

const UUID = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';

const CASES: Case[] = [
  { name: 'integers', run: ({ pool }) => pool.query(`SELECT 32767::int2 AS a, '-2147483648'::int4 AS b, 9223372036854775807::int8 AS c, 0::oid AS d`) },
  {
    name: 'numeric and floats',
    run: ({ pool }) => pool.query(`SELECT 12345678901234567890.123456789::numeric AS n, 3.14::float4 AS f4, 'NaN'::float8 AS nan, '-Infinity'::float8 AS inf, 1e-10::float8 AS tiny`),
  },
  { name: 'text and unicode', run: ({ pool }) => pool.query(`SELECT 'ünïcødé ☃ "q" \\ back'::text AS t, ''::text AS empty, 'x'::varchar(5) AS v, 'c'::char(3) AS c`) },
  {
    name: 'date and time types',
    run: ({ pool }) =>
      pool.query(
        `SELECT '2026-11-29 04:05:06.123456+02'::timestamptz AS tz, '2026-11-29 04:05:06.5'::timestamp AS ts, '2026-11-29'::date AS d,
                '04:05:06'::time AS t, '04:05:06+02'::timetz AS ttz, 'infinity'::timestamptz AS inf, '0044-03-15 BC'::date AS bc`,
      ),
  },
  { name: 'interval', run: ({ pool }) => pool.query(`SELECT '1 year 2 mons 3 days 04:05:06.7'::interval AS i, '-1 day'::interval AS neg, '0'::interval AS zero`) },
  {
    name: 'json and jsonb',
    run: ({ pool }) => pool.query(`SELECT '{"a":[1,2,{"b":null}]}'::json AS j, '{"z":1,"a":"x"}'::jsonb AS jb, 'null'::jsonb AS jnull, '[1,"2"]'::jsonb AS arr, '"s"'::json AS str`),
  },
  { name: 'bytea', run: ({ pool }) => pool.query(`SELECT '\\xdeadbeef'::bytea AS b, ''::bytea AS empty`) },
  {
    name: 'arrays',
    run: ({ pool }) =>
      pool.query(
        `SELECT ARRAY[1,NULL,3]::int4[] AS i, ARRAY['a','b c',NULL,'"q"','{x}']::text[] AS t, '{{1,2},{3,4}}'::int8[] AS m,
                ARRAY[]::int[] AS e, ARRAY['2026-01-01'::date] AS d, ARRAY[true,false] AS b, ARRAY[1.5,2.25]::numeric[] AS n,
                ARRAY['{"x":1}'::jsonb] AS j`,
      ),
  },
  { name: 'uuid, bool and others', run: ({ pool }) => pool.query(`SELECT '${UUID}'::uuid AS u, true AS t, false AS f, '192.168.0.1/24'::inet AS ip, '(1,2)'::point AS pt, 12.34::money AS m`) },
  { name: 'enum and enum[]', run: ({ pool, s }) => pool.query(`SELECT 'happy'::${s}.mood AS m, ARRAY['sad','ok']::${s}.mood[] AS ms`) },
  {
    name: 'NULLs of many types',
    run: ({ pool }) => pool.query('SELECT NULL AS unknown, NULL::int AS i, NULL::text AS t, NULL::jsonb AS j, NULL::timestamptz AS ts, NULL::int[] AS a, NULL::bytea AS b, NULL::bool AS bo'),
  },
  { name: 'rowMode array (duplicate names kept)', run: ({ pool }) => pool.query({ text: 'SELECT 1 AS a, 2 AS a, $1::text AS b', values: ['x'], rowMode: 'array' }) },
  { name: 'duplicate column names in object mode', run: ({ pool }) => pool.query('SELECT 1 AS a, 2 AS a') },
  { name: 'SELECT with no columns', run: ({ pool }) => pool.query('SELECT') },
  {
    name: 'global custom type parser (pg.types.setTypeParser)',
    run: async ({ pool }) => {
      const before = pg.types.getTypeParser(1700, 'text');
      pg.types.setTypeParser(1700, parseFloat);
      try {
        return await pool.query('SELECT 1.25::numeric AS n, ARRAY[1.5]::numeric[] AS ns');
      } finally {
        pg.types.setTypeParser(1700, before);
      }
    },
  },
  {
    name: 'per-query types',
    run: ({ pool }) =>
      pool.query({
        text: 'SELECT 9007199254740993::int8 AS big, 1.5::numeric AS n, now()::date IS NOT NULL AS ok',
        types: { getTypeParser: (oid: number, format?: string) => (oid === 20 ? (v: string) => BigInt(v) : pg.types.getTypeParser(oid, format as 'text')) },
      } as pg.QueryConfig),
  },
  {
    name: 'INSERT … RETURNING with JS parameter types',
    run: ({ pool, s }) =>
      pool.query(
        `INSERT INTO ${s}.users (email, name, age, balance, mood, tags, profile, avatar, born, seen_at, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        ['ada@x.io', 'Ada', 36, '1234.50', 'happy', ['math', 'engines', null], { lang: ['en', 'fr'], n: 1.5, nil: null }, Buffer.from([0, 1, 254, 255]), new Date(1815, 11, 10), new Date(Date.UTC(2026, 10, 29, 4, 5, 6, 789)), true],
      ),
  },
  {
    name: 'multi-row INSERT … RETURNING',
    run: ({ pool, s }) =>
      pool.query(`INSERT INTO ${s}.users (email, name, age, mood) VALUES ($1, $2, $3, 'ok'), ($4, $5, $6, 'sad'), ($7, $8, $9, NULL) RETURNING id, email, mood`, [
        'bob@x.io', 'Bob', 41, 'cy@x.io', 'Cy', null, 'dee@x.io', 'Dee', 29,
      ]),
  },
  { name: 'INSERT without RETURNING', run: ({ pool, s }) => pool.query(`INSERT INTO ${s}.posts (user_id, title) VALUES (1, 'a'), (1, 'b'), (2, 'c')`) },
  { name: 'SELECT with ORDER BY after writes', run: ({ pool, s }) => pool.query(`SELECT id, email, name, age, balance, mood, tags, active FROM ${s}.users ORDER BY id`) },
  { name: 'UPDATE count', run: ({ pool, s }) => pool.query(`UPDATE ${s}.users SET age = age + 1 WHERE age IS NOT NULL`) },
  { name: 'UPDATE matching nothing', run: ({ pool, s }) => pool.query(`UPDATE ${s}.users SET age = 0 WHERE id = $1`, [-1]) },
  { name: 'UPDATE … RETURNING', run: ({ pool, s }) => pool.query(`UPDATE ${s}.users SET name = upper(name) WHERE mood = $1 RETURNING id, name`, ['ok']) },
  {
    name: 'upsert ON CONFLICT DO UPDATE',
    run: ({ pool, s }) => pool.query(`INSERT INTO ${s}.users (email, name) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id, name`, ['bob@x.io', 'Robert']),
  },
  {
    name: 'data-modifying CTE',
    run: ({ pool, s }) =>
      pool.query(`WITH moved AS (UPDATE ${s}.posts SET title = title || '!' WHERE user_id = $1 RETURNING id) SELECT count(*)::int AS n FROM moved`, [1]),
  },
  { name: 'aggregates and GROUP BY', run: ({ pool, s }) => pool.query(`SELECT mood, count(*) AS n, sum(balance) AS total, max(age) AS oldest FROM ${s}.users GROUP BY mood ORDER BY mood NULLS FIRST`) },
  { name: 'DELETE count', run: ({ pool, s }) => pool.query(`DELETE FROM ${s}.posts WHERE user_id = $1`, [2]) },
  { name: 'empty result keeps its fields', run: ({ pool, s }) => pool.query(`SELECT id, email, profile FROM ${s}.users WHERE false`) },
  { name: 'parameters: null and undefined', run: ({ pool }) => pool.query('SELECT $1::text AS a, $2::int AS b, $3::text IS NULL AS c', [null, undefined, undefined]) },
  {
    name: 'parameters: Date',
    run: ({ pool }) => pool.query('SELECT $1::timestamptz AS ts, $2::date AS d, $3::timestamp AS local', [new Date(Date.UTC(2026, 10, 29, 4, 5, 6, 789)), new Date(2020, 0, 1), new Date(2021, 5, 6, 7, 8, 9)]),
  },
  { name: 'parameters: Buffer', run: ({ pool }) => pool.query('SELECT $1::bytea AS b, length($1::bytea) AS n', [Buffer.from([0, 1, 2, 92, 255])]) },
  {
    name: 'parameters: arrays',
    run: ({ pool }) => pool.query('SELECT $1::int[] AS i, $2::text[] AS t, $3::int[] AS nested, $4::text[] AS e', [[1, 2, null], ['a', 'b"c', null, 'd,e'], [[1, 2], [3, 4]], []]),
  },
  { name: 'parameters: objects as json', run: ({ pool }) => pool.query('SELECT $1::jsonb AS j, $2::json AS k', [{ a: 1, b: [true, null], c: 'ü' }, { nested: { deep: [1] } }]) },
  {
    name: 'parameters: bigint as string and as bigint, booleans, numbers',
    run: ({ pool }) => pool.query('SELECT $1::int8 AS big, $2::int8 AS native, $3::bool AS t, $4::bool AS f, $5::float8 AS x, $6::numeric AS n', ['9223372036854775807', 10n, true, false, 1.5, '0.1']),
  },
  { name: 'query config with a statement name, run twice', run: async ({ pool, s }) => [await pool.query({ name: 'compat_by_email', text: `SELECT id, email FROM ${s}.users WHERE email = $1`, values: ['ada@x.io'] }), await pool.query({ name: 'compat_by_email', text: `SELECT id, email FROM ${s}.users WHERE email = $1`, values: ['cy@x.io'] })] },
  {
    name: 'callback form',
    run: ({ pool, s }) =>
      new Promise((resolve, reject) => {
        pool.query(`SELECT email FROM ${s}.users WHERE id = $1`, [1], (err: Error | undefined, res: pg.QueryResult) => (err ? reject(err) : resolve(res)));
      }),
  },
  {
    name: 'callback form with an error',
    run: ({ pool, s }) =>
      new Promise((resolve) => {
        pool.query(`INSERT INTO ${s}.users (email) VALUES ($1)`, ['ada@x.io'], (err: Error | undefined, res: pg.QueryResult | undefined) => resolve({ err: normalizeError(err), res: res ?? null, isDbError: err instanceof pg.DatabaseError }));
      }),
  },
  { name: 'error: unique violation 23505', error: true, run: ({ pool, s }) => pool.query(`INSERT INTO ${s}.users (email, name) VALUES ($1, $2)`, ['ada@x.io', 'dup']) },
  { name: 'error: not-null violation 23502', error: true, run: ({ pool, s }) => pool.query(`INSERT INTO ${s}.posts (user_id, title) VALUES ($1, $2)`, [1, null]) },
  { name: 'error: foreign key violation 23503', error: true, run: ({ pool, s }) => pool.query(`INSERT INTO ${s}.posts (user_id, title) VALUES ($1, $2)`, [999, 'orphan']) },
  { name: 'error: check violation 23514', error: true, run: ({ pool, s }) => pool.query(`UPDATE ${s}.users SET age = -5 WHERE id = 1`) },
  {
    name: 'error: syntax 42601',
    error: true,
    run: ({ pool }) => pool.query('SELEC 1'),
    qsCode: 'QS_SQL_SYNTAX',
    // The proxy's own parser refuses the text before PostgreSQL sees it (qsCode QS_SQL_SYNTAX),
    // with PostgreSQL's message and position.
  },
  { name: 'error: undefined table 42P01', error: true, run: ({ pool, s }) => pool.query(`SELECT * FROM ${s}.nope`) },
  { name: 'error: invalid input 22P02', error: true, run: ({ pool }) => pool.query(`SELECT 'abc'::int`) },
  { name: 'error: division by zero 22012', error: true, run: ({ pool }) => pool.query('SELECT 1 / $1::int', [0]) },
  {
    name: 'pool.connect(): BEGIN, INSERT, ROLLBACK',
    run: async ({ pool, s }) => {
      const client = await pool.connect();
      try {
        const out = [await client.query('BEGIN'), await client.query(`INSERT INTO ${s}.users (email) VALUES ($1) RETURNING id`, ['tx@x.io'])];
        out.push(await client.query(`SELECT count(*)::int AS n FROM ${s}.users WHERE email = $1`, ['tx@x.io']));
        out.push(await client.query('ROLLBACK'));
        out.push(await client.query(`SELECT count(*)::int AS n FROM ${s}.users WHERE email = $1`, ['tx@x.io']));
        return out;
      } finally {
        client.release();
      }
    },
  },
  {
    name: 'pool.connect(): BEGIN, error, ROLLBACK TO SAVEPOINT, COMMIT',
    run: async ({ pool, s }) => {
      const client = await pool.connect();
      try {
        const out: unknown[] = [await client.query('BEGIN'), await client.query(`INSERT INTO ${s}.users (email) VALUES ('sp1@x.io')`), await client.query('SAVEPOINT sp')];
        out.push(normalizeError(await client.query(`INSERT INTO ${s}.users (email) VALUES ('sp1@x.io')`).catch((e: unknown) => e)));
        out.push(await client.query('ROLLBACK TO SAVEPOINT sp'), await client.query('COMMIT'));
        out.push(await pool.query(`SELECT email FROM ${s}.users WHERE email LIKE 'sp%'`));
        return out;
      } finally {
        client.release();
      }
    },
  },
  {
    name: 'pool.connect(): SET search_path persists for later queries',
    run: async ({ pool, s }) => {
      const client = await pool.connect();
      try {
        const out = [await client.query(`SET search_path TO ${s}`), await client.query('SELECT count(*)::int AS n FROM users'), await client.query('SHOW search_path')];
        out.push(await client.query('RESET search_path'));
        return out;
      } finally {
        client.release();
      }
    },
  },
  {
    name: 'pool.connect(): temp table lives on the connection',
    run: async ({ pool }) => {
      const client = await pool.connect();
      try {
        return [
          await client.query('CREATE TEMP TABLE compat_tmp (x int)'),
          await client.query('INSERT INTO compat_tmp VALUES (1), (2)'),
          await client.query('SELECT sum(x)::int AS s FROM compat_tmp'),
          await client.query('DROP TABLE compat_tmp'),
        ];
      } finally {
        client.release();
      }
    },
  },
  {
    name: 'pool.connect(): a SELECT that writes (nextval) runs',
    run: async ({ pool, s }) => {
      const client = await pool.connect();
      try {
        return [await client.query(`SELECT nextval('${s}.seq') AS n`), await client.query(`SELECT currval('${s}.seq') AS c`)];
      } finally {
        client.release();
      }
    },
  },
  {
    name: 'multi-statement text without parameters returns an array',
    run: ({ pool, s }) => pool.query(`INSERT INTO ${s}.kv (k) VALUES ('m1'); SELECT k FROM ${s}.kv WHERE k = 'm1'; DELETE FROM ${s}.kv WHERE k = 'm1'`),
  },
];

/** What a suite compares: the reference results by case name, and how many the proxy matched. */
const reference = new Map<string, unknown>();
let compared = 0;

for (const target of TARGETS) describe(target.name, () => compatSuite(target));

describe('coverage', () => {
  it('compared at least 30 queries between direct pg and QsPool', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(compared).toBe(CASES.length);
  });
});

function compatSuite(target: CompatTarget): void {
  let env: CompatEnv;
  let ctx: Ctx;
  // The enum's oid and its array type's are per schema, so they are compared by name.
  const aliases = new Map<number, string>();

  beforeAll(async () => {
    env = await target.open('qs_compat');
    const s = `"${env.schema}"`;
    const pool = env.makePool({ max: 4 });
    expect(pool instanceof QsPool, 'the pool under test').toBe(target.proxied);
    ctx = { pool, s, env };
    await pool.query(`
      CREATE TYPE ${s}.mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TABLE ${s}.users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text, age int CHECK (age IS NULL OR age >= 0),
        balance numeric(12,2), mood ${s}.mood, tags text[], profile jsonb, avatar bytea, born date, seen_at timestamptz, active boolean DEFAULT true);
      CREATE TABLE ${s}.posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES ${s}.users(id), title text NOT NULL);
      CREATE TABLE ${s}.kv (k text PRIMARY KEY, v json);
      CREATE SEQUENCE ${s}.seq`);
    const oids = await pool.query<{ t: number; a: number }>(`SELECT oid::int AS t, typarray::int AS a FROM pg_type WHERE typname = 'mood' AND typnamespace = $1::regnamespace`, [env.schema]);
    aliases.set(oids.rows[0]!.t, 'mood').set(oids.rows[0]!.a, 'mood[]');
  });
  afterAll(() => env?.close());

  for (const c of CASES) {
    it(c.name, async () => {
      let out: unknown;
      try {
        out = normalize(await c.run(ctx), env.schema, aliases);
      } catch (err) {
        expect(err, 'errors are pg-protocol DatabaseErrors').toBeInstanceOf(pg.DatabaseError);
        expect((err as { qsCode?: string }).qsCode).toBe(target.proxied ? c.qsCode : undefined);
        out = { thrown: normalize(normalizeError(err), env.schema, aliases) };
      }
      if (c.error) expect(out).toHaveProperty('thrown');
      else expect(out).not.toHaveProperty('thrown');
      if (!target.proxied) {
        reference.set(c.name, out);
        return;
      }
      expect(reference.has(c.name), 'the direct pg run of this case').toBe(true);
      const expected = reference.get(c.name);
      if (c.gap) {
        const got = (out as { thrown: Record<string, unknown> }).thrown;
        const want = (expected as { thrown: Record<string, unknown> }).thrown;
        expect(String(got.message).startsWith(String(want.message)), c.gap.why).toBe(true);
        for (const f of c.gap.fields) {
          delete got[f];
          delete want[f];
        }
      }
      expect(out).toStrictEqual(expected);
      compared++;
    });
  }
}

/** Every pg-visible field of a DatabaseError (not `length`: pg's wire length, -1 without a wire). */
function normalizeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as pg.DatabaseError;
  return {
    class: e.constructor.name,
    message: e.message,
    severity: e.severity,
    code: e.code,
    detail: e.detail,
    hint: e.hint,
    position: e.position,
    internalPosition: e.internalPosition,
    internalQuery: e.internalQuery,
    where: e.where,
    schema: e.schema,
    table: e.table,
    column: e.column,
    dataType: e.dataType,
    constraint: e.constraint,
  };
}

/** A Result as the projection the suite compares; the schema name and per-schema oids made neutral. */
function normalize(value: unknown, schema: string, aliases: Map<number, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, schema, aliases));
  if (typeof value === 'string') return value.split(schema).join('<schema>');
  if (value === null || typeof value !== 'object' || value instanceof Date || Buffer.isBuffer(value)) return value;
  const r = value as pg.QueryResult & { rowAsArray?: boolean };
  if ('command' in r && 'fields' in r && 'rows' in r) {
    return {
      command: r.command,
      rowCount: r.rowCount,
      oid: r.oid,
      rowAsArray: r.rowAsArray,
      rows: normalize(r.rows, schema, aliases),
      fields: r.fields.map((f) => ({
        name: f.name,
        // Table oids differ between the two schemas; whether there is one does not.
        tableID: f.tableID === 0 ? 0 : 'table',
        columnID: f.columnID,
        dataTypeID: aliases.get(f.dataTypeID) ?? f.dataTypeID,
        dataTypeSize: f.dataTypeSize,
        dataTypeModifier: f.dataTypeModifier,
        format: f.format,
      })),
    };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, schema, aliases)]));
}
