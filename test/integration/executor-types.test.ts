import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/server/executor/executor.js';
import { RAW_TYPES } from '../../src/server/executor/raw-query.js';
import type { ExecutionTarget } from '../../src/server/executor/types.js';

const DSN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `qs_exec_types_${randomBytes(4).toString('hex')}`;

/** Column name → SQL type and a few literals (NULL included in every column via the null row). */
const COLUMNS: Array<[string, string, string[]]> = [
  ['c_int2', 'int2', ['-32768', '32767']],
  ['c_int4', 'int4', ['-2147483648', '42']],
  ['c_int8', 'int8', ['9223372036854775807', '-9223372036854775808']],
  ['c_numeric', 'numeric(30,10)', ['12345678901234567890.0123456789', '-0.5']],
  ['c_numeric_free', 'numeric', ["'NaN'", '1e-20']],
  ['c_float4', 'float4', ['3.14159', "'-Infinity'"]],
  ['c_float8', 'float8', ['0.1', "'NaN'"]],
  ['c_bool', 'bool', ['true', 'false']],
  ['c_text', 'text', ["'héllo, \"world\" \\ '' {}'", "''"]],
  ['c_varchar', 'varchar(20)', ["'abc'", "'ünïcødé ✓'"]],
  ['c_char', 'char(5)', ["'ab'", "'abcde'"]],
  ['c_bytea', 'bytea', ["'\\x00ff10'::bytea", "''::bytea"]],
  ['c_date', 'date', ["'2026-11-29'", "'infinity'"]],
  ['c_time', 'time', ["'04:05:06.789'", "'23:59:59'"]],
  ['c_timetz', 'timetz', ["'04:05:06+02'", "'00:00:00-08'"]],
  ['c_timestamp', 'timestamp', ["'2026-11-29 04:00:00.123456'", "'-infinity'"]],
  ['c_timestamptz', 'timestamptz', ["'2026-11-29 04:00:00+00'", "'1999-01-08 04:05:06 PST'"]],
  ['c_interval', 'interval', ["'1 year 2 mons 3 days 04:05:06'", "'-1 day'"]],
  ['c_json', 'json', [`'{"b": 1,  "a": [1, 2]}'`, "'null'"]],
  ['c_jsonb', 'jsonb', [`'{"b": 1,  "a": [1, 2]}'`, "'[]'"]],
  ['c_uuid', 'uuid', ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"]],
  ['c_inet', 'inet', ["'192.168.0.1/24'", "'::1'"]],
  ['c_cidr', 'cidr', ["'10.0.0.0/8'", "'2001:db8::/32'"]],
  ['c_macaddr', 'macaddr', ["'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'"]],
  ['c_money', 'money', ["'12.34'", "'-1000000.99'"]],
  ['c_int4_arr', 'int4[]', ["'{1,2,NULL,3}'", "'{}'"]],
  ['c_text_arr', 'text[]', [`'{"a b","c,d",NULL,"e\\"f"}'`, "'{{x,y},{z,w}}'"]],
  ['c_jsonb_arr', 'jsonb[]', [`ARRAY['{"a":1}'::jsonb, 'null'::jsonb]`, "'{}'"]],
  ['c_enum', 'mood', ["'happy'", "'sad'"]],
  ['c_point', 'point', ["'(1.5,2)'", "'(0,0)'"]],
  ['c_int4range', 'int4range', ["'[1,10)'", "'empty'"]],
  ['c_tsvector', 'tsvector', ["'a fat cat'", "''"]],
  ['c_bit', 'bit varying(8)', ["B'1010'", "B''"]],
  ['c_xml', 'xml', ["'<a>b</a>'", "'<x/>'"]],
  ['c_oid', 'oid', ['4294967295', '0']],
];

let executor: Executor;
let reference: pg.Client;
const target: ExecutionTarget = {
  integrationId: `int_types_${schema}`,
  credentialId: 'cred_types',
  credentialVersion: 1,
  getDsn: async () => DSN,
  limits: {},
};

beforeAll(async () => {
  if (COLUMNS.length < 25) throw new Error('the type table must cover at least 25 types');
  reference = new pg.Client({ connectionString: DSN });
  await reference.connect();
  await reference.query(`CREATE SCHEMA ${schema}`);
  await reference.query(`SET search_path TO ${schema}`);
  await reference.query(`CREATE TYPE mood AS ENUM ('happy', 'sad')`);
  await reference.query(`CREATE TABLE t (id int PRIMARY KEY, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
  for (const row of [0, 1]) {
    await reference.query(`INSERT INTO t VALUES (${row}, ${COLUMNS.map(([, t, v]) => `(${v[row]})::${t}`).join(', ')})`);
  }
  await reference.query(`INSERT INTO t (id) VALUES (2)`);
  executor = new Executor({ poolOptions: { max: 2 } });
});

afterAll(async () => {
  await executor?.close();
  await reference?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await reference?.end();
});

async function direct(sql: string, values?: unknown[]): Promise<pg.QueryArrayResult> {
  return reference.query({ text: sql, values, rowMode: 'array', types: RAW_TYPES });
}

describe('executor: raw text values', () => {
  it('returns every type exactly as PostgreSQL sent it, with the same field metadata', async () => {
    const sql = `SELECT * FROM ${schema}.t ORDER BY id`;
    const expected = await direct(sql);
    const { results } = await executor.run({ target, mode: 'read', statements: [{ sql }], batch: false });
    expect(results).toHaveLength(1);
    const [got] = results;
    expect(got?.command).toBe('SELECT');
    expect(got?.rowCount).toBe(3);
    expect(got?.rows).toEqual(expected.rows);
    expect(got?.fields).toEqual(expected.fields.map((f) => ({ ...f })));
    expect(got?.fields.map((f) => f.name)).toEqual(['id', ...COLUMNS.map(([n]) => n)]);
    // Spot checks that the values really are raw text, not parsed JS values.
    const byName = (name: string): string | null | undefined => got?.rows[0]?.[got.fields.findIndex((f) => f.name === name)];
    expect(byName('c_int8')).toBe('9223372036854775807');
    expect(byName('c_bytea')).toBe('\\x00ff10');
    expect(byName('c_bool')).toBe('t');
    expect(byName('c_int4_arr')).toBe('{1,2,NULL,3}');
    expect(got?.rows[2]?.slice(1).every((v) => v === null)).toBe(true);
    for (const field of got?.fields ?? []) expect(field.tableID).toBeGreaterThan(0);
  });

  it('passes text parameters as pg would and returns computed columns raw', async () => {
    const sql = 'SELECT $1::int8 + 1 AS n, $2::bytea AS b, $3::timestamptz AS ts, $4::text IS NULL AS isnull, $5::numeric * 2 AS d';
    const params = ['9007199254740993', '\\xdeadbeef', '2026-01-02 03:04:05.678+05', null, '0.30000000000000000001'];
    const expected = await direct(sql, params);
    const { results } = await executor.run({ target, mode: 'read', statements: [{ sql, params }], batch: false });
    expect(results[0]?.rows).toEqual(expected.rows);
    expect(results[0]?.fields).toEqual(expected.fields.map((f) => ({ ...f })));
    expect(results[0]?.rows[0]?.[0]).toBe('9007199254740994');
  });

  it('keeps command, rowCount and oid of non-SELECT statements', async () => {
    const { results } = await executor.run({
      target,
      mode: 'write',
      statements: [{ sql: `UPDATE ${schema}.t SET c_text = c_text WHERE id < $1`, params: ['2'] }],
      batch: false,
    });
    expect(results[0]).toMatchObject({ command: 'UPDATE', rowCount: 2, fields: [], rows: [] });
  });
});
