/**
 * A pipeline is answered by one payload, so answers that are each fine alone can be too large
 * together. The proxy keeps a pipeline's answers under QS_PIPELINE_ANSWER_LIMIT by leaving the
 * largest answers to reads out (QS_PIPELINE_ANSWER_TOO_LARGE), and the driver runs those reads
 * again alone; writes' answers are never left out, and no write ever runs twice. Real server,
 * real PostgreSQL, with a 64 KiB limit so that the answers stay small.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import type { WireError, WireResult } from '../../src/protocol/wire.js';
import { countingTransport } from '../helpers/counting-transport.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';
import { pipeline, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';

const LIMIT = 64 * 1024;
/** A read whose answer is ~40 KB: two fit under LIMIT only one at a time. */
const BIG_READ = 'SELECT repeat(chr(64 + $1::int), 40000) AS big, $1::int AS n';

let server: TestServer;
let tenant: Tenant;
const schema = tempSchemaName('qs_pipe_big');
const admin = new pg.Client({ connectionString: databaseUrl() });

const errorOf = (a: unknown) => (a as { error?: WireError }).error;
const rowsOf = (a: unknown) => (a as { results?: WireResult[] }).results?.[0]?.rows;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.notes (id int PRIMARY KEY, body text NOT NULL)`);
  // A SELECT that writes: refused by the read-only connection, so the proxy reruns it on the write
  // pool (the integration may write), where it writes. Its answer is as large as BIG_READ's.
  await admin.query(`CREATE TABLE ${schema}.log (tag int NOT NULL)`);
  await admin.query(
    `CREATE FUNCTION ${schema}.logged_big(tag int) RETURNS text LANGUAGE plpgsql VOLATILE AS $$ BEGIN INSERT INTO ${schema}.log VALUES (tag); RETURN repeat('x', 40000); END $$`,
  );
  server = await startTestServer({ pipelineAnswerLimit: LIMIT });
  tenant = await provisionTenant(server, { allow: ['query', 'execute'] });
});
afterAll(async () => {
  await server?.dispose();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe('POST /api/v2/proxy/pipeline under QS_PIPELINE_ANSWER_LIMIT', () => {
  it('leaves out the largest answers to reads until the rest fit, and audits them as such', async () => {
    const r = await pipeline(tenant, [
      { operation: 'query', payload: { sql: BIG_READ, params: ['1'] } },
      { operation: 'query', payload: { sql: 'SELECT $1::int AS small', params: ['2'] } },
      { operation: 'query', payload: { sql: BIG_READ, params: ['3'] } },
    ]);
    expect(r.status).toBe(200);
    const answers = r.answers!;
    // Only one of the two ~40 KB answers fits beside the small one under 64 KiB.
    const withheld = answers.filter((a) => errorOf(a)?.qs_code === 'QS_PIPELINE_ANSWER_TOO_LARGE');
    expect(withheld).toHaveLength(1);
    expect(errorOf(withheld[0])?.code).toBe('54000');
    expect(rowsOf(answers[1])).toEqual([['2']]);
    const kept = [answers[0], answers[2]].find((a) => errorOf(a) === undefined);
    expect(rowsOf(kept)?.[0]?.[0]).toHaveLength(40_000);

    const events = await server.ctx.store.listAuditEvents(tenant.tenantId, { limit: 1000 });
    const event = events.find((e) => e.id === withheld[0]?.audit_event_id);
    expect([event?.outcome, event?.qsCode]).toEqual(['failed', 'QS_PIPELINE_ANSWER_TOO_LARGE']);
  });

  it('never leaves out a write’s answer (it has committed), nor small reads that would not help', async () => {
    const r = await pipeline(tenant, [
      { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.notes VALUES ($1, repeat('w', 70000)) RETURNING body`, params: ['1'] } },
      { operation: 'query', payload: { sql: 'SELECT $1::int AS small', params: ['2'] } },
    ]);
    expect(r.status).toBe(200);
    expect(r.answers?.map((a) => errorOf(a)?.qs_code)).toEqual([undefined, undefined]);
    expect(rowsOf(r.answers?.[0])?.[0]?.[0]).toHaveLength(70_000);
    expect(rowsOf(r.answers?.[1])).toEqual([['2']]);
  });

  it('never leaves out the answer of a SELECT that wrote (rerun on the write pool), however large', async () => {
    const sql = `SELECT ${schema}.logged_big($1) AS big`;
    const r = await pipeline(tenant, [
      { operation: 'query', payload: { sql, params: ['101'] } },
      { operation: 'query', payload: { sql, params: ['102'] } },
    ]);
    expect(r.answers?.map((a) => errorOf(a)?.qs_code)).toEqual([undefined, undefined]);
    expect(r.answers?.map((a) => rowsOf(a)?.[0]?.[0]?.length)).toEqual([40_000, 40_000]);
    const { rows } = await admin.query<{ tag: number }>(`SELECT tag FROM ${schema}.log WHERE tag IN (101, 102) ORDER BY tag`);
    expect(rows.map((x) => x.tag)).toEqual([101, 102]);
  });
});

describe('QsPool and answers too large to share a pipeline', () => {
  const poolFor = (transport: ReturnType<typeof countingTransport>) =>
    new QsPool({ url: tenant.url, apiKey: tenant.apiKey, clientKeys: tenant.clientKeysPath, integrationId: tenant.integrationId, max: 16, transport });

  it('runs a left-out read again alone, so every caller gets its rows; the statement then goes alone', async () => {
    const transport = countingTransport(tenant.url);
    const pool = poolFor(transport);
    const round = async () => {
      const warm = pool.query('SELECT pg_sleep(0.05)'); // in flight, so the calls below coalesce
      const reads = [1, 2, 3].map((n) => pool.query<{ big: string; n: number }>(BIG_READ, [n]));
      const small = pool.query<{ n: number }>('SELECT $1::int AS n', [9]);
      const [, bigs, smallResult] = await Promise.all([warm, Promise.all(reads), small]);
      expect(bigs.map((b) => [b.rows[0]?.n, b.rows[0]?.big.length, b.rows[0]?.big[0]])).toEqual([
        [1, 40_000, 'A'],
        [2, 40_000, 'B'],
        [3, 40_000, 'C'],
      ]);
      expect(smallResult.rows).toEqual([{ n: 9 }]);
    };
    const bigPaths = () => transport.sent.filter((s) => s.body.includes('repeat(chr(64')).map((s) => s.path.replace(/.*\/proxy\//, ''));
    try {
      await round();
      // They travelled together first; the proxy left out what did not fit, and those went alone.
      expect(bigPaths()[0]).toBe('pipeline');
      expect(bigPaths().filter((p) => p === 'outbound').length).toBeGreaterThanOrEqual(1);
      transport.sent.length = 0;
      // Then the driver knows: the big statement goes alone at once.
      await round();
      expect(bigPaths()).toEqual(['outbound', 'outbound', 'outbound']);
    } finally {
      await pool.end();
    }
  });

  it('a SELECT that writes, with a large answer, runs exactly once per caller', async () => {
    const transport = countingTransport(tenant.url);
    const pool = poolFor(transport);
    const sql = `SELECT ${schema}.logged_big($1) AS big`;
    try {
      const warm = pool.query('SELECT pg_sleep(0.05)');
      const results = await Promise.all([warm, ...[201, 202, 203].map((tag) => pool.query<{ big: string }>(sql, [tag]))]);
      expect(results.slice(1).map((r) => r.rows[0]?.big.length)).toEqual([40_000, 40_000, 40_000]);
      expect(transport.sent.some((s) => s.path.endsWith('/pipeline') && s.body.includes('logged_big'))).toBe(true);
    } finally {
      await pool.end();
    }
    const { rows } = await admin.query<{ tag: number; n: string }>(`SELECT tag, count(*) AS n FROM ${schema}.log WHERE tag > 200 GROUP BY tag ORDER BY tag`);
    expect(rows.map((r) => [r.tag, r.n])).toEqual([
      [201, '1'],
      [202, '1'],
      [203, '1'],
    ]);
  });

  it('a write with a large answer runs exactly once', async () => {
    const transport = countingTransport(tenant.url);
    const pool = poolFor(transport);
    const insert = `INSERT INTO ${schema}.notes VALUES ($1, repeat('v', 40000)) RETURNING length(body) AS len, body`;
    try {
      const warm = pool.query('SELECT pg_sleep(0.05)');
      const results = await Promise.all([warm, ...[11, 12, 13].map((id) => pool.query(insert, [id]))]);
      expect(results.slice(1).map((r) => r.rows[0]?.len)).toEqual([40_000, 40_000, 40_000]);
      expect(transport.sent.some((s) => s.path.endsWith('/pipeline') && s.body.includes('INSERT'))).toBe(true);
    } finally {
      await pool.end();
    }
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.notes WHERE id IN (11, 12, 13)`);
    expect(rows[0]?.n).toBe('3');
  });
});
