/**
 * Rows written as JSON from PostgreSQL's bytes (QS_ENCODE_ROWS, on by default) against rows that
 * went through pg's parser, on the real PostgreSQL: the opened payloads must be identical for every
 * type and every awkward value, alone and in pipelines; a query that fails halfway through its rows,
 * or is refused for max_rows, must leave its pooled connection right for the next query.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRaw, type RawQueryOptions } from '../../src/server/executor/raw-query.js';
import { encodedRowsOf } from '../../src/server/executor/row-json.js';
import { DivertingClient } from '../../src/server/executor/row-diverter.js';
import type { WireResult } from '../../src/protocol/wire.js';
import { databaseUrl } from '../helpers/pg.js';
import { outbound, pipeline, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';

let encoding: TestServer;
let parsing: TestServer;
let onEncoding: Tenant;
let onParsing: Tenant;

beforeAll(async () => {
  [encoding, parsing] = await Promise.all([startTestServer({ encodeRows: true }), startTestServer({ encodeRows: false })]);
  [onEncoding, onParsing] = await Promise.all([provisionTenant(encoding, { allow: ['query', 'execute'] }), provisionTenant(parsing, { allow: ['query', 'execute'] })]);
});
afterAll(async () => {
  await Promise.all([encoding?.dispose(), parsing?.dispose()]);
});

/** Every type family's text form, and strings with everything JSON must escape. */
const AWKWARD = `SELECT g AS n, g::int2 AS i2, (g * 1000000000000)::int8 AS i8, 9007199254740993::int8 AS beyond_js,
  1.5::float4 AS f4, (1.0 / 3)::float8 AS f8, 12345678901234567890.123::numeric AS num, 'NaN'::float8 AS nan, (g % 2 = 0) AS b,
  'say "hi" \\ there' AS quotes, E'tab\\tnew\\nline\\rcr\\bbs\\fff\\x01\\x1f\\x7f' AS controls,
  'héllo 日本語 😀 \u2028' AS unicode, '' AS empty, NULL::text AS nothing, '\\x00ff10'::bytea AS bin,
  ARRAY[1, NULL, 3]::int[] AS ints, ARRAY['a"b', 'c,d', NULL]::text[] AS texts, '{"a": "x\\"y", "b": [1, 2]}'::json AS j,
  '{"k": [true, null]}'::jsonb AS jb, '2026-01-02'::date AS d, '2026-01-02 03:04:05.123456+00'::timestamptz AS ts,
  '1 day 02:03:04'::interval AS iv, 'a1b2c3d4-0000-4000-8000-000000000000'::uuid AS u, '(1,2)'::point AS pt,
  'x'::char(3) AS padded, $1::text AS param
FROM generate_series(1, 50) g`;

const payloadOf = async (tenant: Tenant, sql: string, params: unknown[] = []) => (await outbound(tenant, { operation: 'query', payload: { sql, params } })).payload;

describe('encoded rows against pg-parsed rows', () => {
  it('are the same payload for every type and awkward value', async () => {
    const params = ['param with "quotes", \\, \n and ünïcödé'];
    const [a, b] = await Promise.all([payloadOf(onEncoding, AWKWARD, params), payloadOf(onParsing, AWKWARD, params)]);
    expect((a as { results: WireResult[] }).results[0]?.rows).toHaveLength(50);
    expect(a).toEqual(b);
  });

  it('are the same for no rows, 10,000 rows and a CTE', async () => {
    for (const [sql, operation] of [
      ['SELECT 1 AS x WHERE false', 'query'],
      ["SELECT g, md5(g::text) AS h FROM generate_series(1, 10000) g", 'query'],
      ['WITH t AS (SELECT 1) SELECT * FROM t', 'query'],
    ] as const) {
      const [a, b] = await Promise.all([onEncoding, onParsing].map(async (t) => (await outbound(t, { operation, payload: { sql, params: [] } })).payload));
      expect(a).toEqual(b);
    }
  });

  it('are the same inside a pipeline, beside an error and a plain answer', async () => {
    const calls = [
      { operation: 'query', payload: { sql: AWKWARD, params: ['p1'] } },
      { operation: 'query', payload: { sql: 'SELECT 1 / 0', params: [] } },
      { operation: 'query', payload: { sql: 'SELECT $1::text AS echo', params: ['p2'] } },
    ];
    const [a, b] = await Promise.all([pipeline(onEncoding, calls), pipeline(onParsing, calls)]);
    const strip = (answers: unknown) => (answers as Array<Record<string, unknown>>).map(({ audit_event_id: _a, elapsed_ms: _e, ...rest }) => rest);
    expect(strip(a.answers)).toEqual(strip(b.answers));
    expect(a.answers?.[0]).toHaveProperty('results');
  });
});

describe('audit of encoded results', () => {
  it('counts the rows of a SHOW (no count in its CommandComplete) as the parsed path does', async () => {
    for (const [server, tenant] of [[encoding, onEncoding], [parsing, onParsing]] as const) {
      const r = await outbound(tenant, { operation: 'query', payload: { sql: 'SHOW server_version', params: [] } });
      expect((r.payload as { results: WireResult[] }).results[0]?.rows).toHaveLength(1);
      const events = await server.ctx.store.listAuditEvents(tenant.tenantId, { limit: 1000 });
      expect(events.at(-1)).toMatchObject({ operation: 'query', rowCount: 1 });
    }
  });
});

describe('a pooled connection after a diverted query that did not end well', () => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 1, Client: DivertingClient as unknown as new () => pg.ClientBase });
  });
  afterAll(() => pool.end());

  const run = async (sql: string, encodeRows: boolean, more: RawQueryOptions = {}) => {
    const client = await pool.connect();
    try {
      return await runRaw(client, { kind: 'extended', statement: { sql, params: [] } }, { encodeRows, ...more });
    } finally {
      client.release();
    }
  };
  const ROWS = 'SELECT g FROM generate_series(1, 3) g';
  /** The next queries on the (one) pooled connection, parsed and encoded, get exactly their own rows. */
  const expectConnectionRight = async () => {
    expect((await run(ROWS, false))[0]?.rows).toEqual([['1'], ['2'], ['3']]);
    const [encoded] = await run(ROWS, true);
    expect(encodedRowsOf(encoded?.rows)?.json.toString()).toBe('[["1"],["2"],["3"]]');
  };

  it('an error after 5,000 rows: the next queries on the same connection get exactly their own rows', async () => {
    await expect(run('SELECT g, 1 / (g - 5001) AS boom FROM generate_series(1, 10000) g', true)).rejects.toMatchObject({ code: '22012' });
    await expectConnectionRight();
  });

  it('refused for max_rows: QS_MAX_ROWS, and the connection still answers the next query', async () => {
    await expect(run('SELECT g FROM generate_series(1, 100) g', true, { maxRows: 10 })).rejects.toMatchObject({ code: 'QS_MAX_ROWS' });
    await expectConnectionRight();
  });

  it('rows past the encoding limit: QS_RESULT_TOO_LARGE, no crash, and the connection still answers', async () => {
    await expect(run("SELECT repeat('x', 3000) FROM generate_series(1, 100) g", true, { maxEncodedBytes: 64 * 1024 })).rejects.toMatchObject({ code: 'QS_RESULT_TOO_LARGE' });
    await expectConnectionRight();
  });

  it('a plain client (no diverter) just parses: encodeRows is a request, not a requirement', async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      const [r] = await runRaw(client, { kind: 'extended', statement: { sql: ROWS, params: [] } }, { encodeRows: true });
      expect(r?.rows).toEqual([['1'], ['2'], ['3']]);
    } finally {
      await client.end();
    }
  });
});
