/**
 * POST /api/v2/proxy/pipeline and the driver's coalescing of concurrent one-shot queries, against
 * the real server and PostgreSQL. Every call in a pipeline must behave exactly as if it had come
 * alone: its own policy decision, answer and audit event; one failing touches no other.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import { openEnvelope } from '../../src/protocol/envelope.js';
import { EnvelopeVerificationError } from '../../src/protocol/errors.js';
import { deriveResponseHmacKey } from '../../src/protocol/keys.js';
import { PIPELINE_MAX_CALLS, type WireError, type WireResult } from '../../src/protocol/wire.js';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import { countingTransport } from '../helpers/counting-transport.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';
import { api, pipeline, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';

const PIPELINE_ROUTE = 'POST /api/v2/proxy/pipeline';
const OUTBOUND_ROUTE = 'POST /api/v2/proxy/outbound';

let server: TestServer;
let full: Tenant;
let readOnly: Tenant;
const schema = tempSchemaName('qs_pipe');
const admin = new pg.Client({ connectionString: databaseUrl() });

const rowsOf = (a: unknown) => (a as { results: WireResult[] }).results[0]?.rows;
const errorOf = (a: unknown) => (a as { error: WireError }).error;

/** The tenant's audit events, oldest first. */
async function auditEvents(tenant: Tenant) {
  return server.ctx.store.listAuditEvents(tenant.tenantId, { limit: 1000 });
}

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text NOT NULL)`);
  await admin.query(`INSERT INTO ${schema}.items SELECT i, 'item ' || i FROM generate_series(1, 100) i`);
  server = await startTestServer();
  full = await provisionTenant(server, { allow: ['query', 'execute', 'transaction'] });
  readOnly = await provisionTenant(server, { allow: ['query'] });
});
afterAll(async () => {
  await server?.dispose();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe('POST /api/v2/proxy/pipeline', () => {
  it('answers every call in order, each as if alone: results, SQL errors and policy denials side by side, each audited', async () => {
    const before = (await auditEvents(readOnly)).length;
    const r = await pipeline(readOnly, [
      { operation: 'query', payload: { sql: `SELECT name FROM ${schema}.items WHERE id = $1`, params: ['7'] } },
      { operation: 'query', payload: { sql: 'SELECT 1 / $1::int AS x', params: ['0'] } },
      { operation: 'execute', payload: { sql: `DELETE FROM ${schema}.items WHERE id = $1`, params: ['8'] } },
      { operation: 'query', payload: { sql: `SELECT name FROM ${schema}.items WHERE id = $1`, params: ['9'] } },
    ]);
    expect(r.status).toBe(200);
    expect(r.envelope?.context.operation).toBe('pipeline');
    const answers = r.answers!;
    expect(answers).toHaveLength(4);
    expect(rowsOf(answers[0])).toEqual([['item 7']]);
    expect(errorOf(answers[1])).toMatchObject({ code: '22012' });
    expect(errorOf(answers[2])).toMatchObject({ qs_code: 'QS_OPERATION_DENIED' });
    expect(rowsOf(answers[3])).toEqual([['item 9']]);
    // The denied DELETE did not run.
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.items WHERE id = 8`)).rows[0].n).toBe(1);

    const events = (await auditEvents(readOnly)).slice(before);
    expect(events).toHaveLength(4);
    expect(events.map((e) => e.id).sort()).toEqual(answers.map((a) => a.audit_event_id).sort());
    const byId = new Map(events.map((e) => [e.id, e]));
    expect(answers.map((a) => byId.get(a.audit_event_id)?.outcome)).toEqual(['allowed', 'failed', 'denied', 'allowed']);
    expect(events.every((e) => e.route === PIPELINE_ROUTE && e.requestId === r.envelope?.context.request_id)).toBe(true);
    expect(answers.map((a) => byId.get(a.audit_event_id)?.operation)).toEqual(['query', 'query', 'execute', 'query']);
  });

  it('writes run as they would alone (each in its own implicit transaction): one failing leaves the others committed', async () => {
    const r = await pipeline(full, [
      { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items (id, name) VALUES ($1, $2)`, params: ['1001', 'a'] } },
      { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items (id, name) VALUES ($1, $2)`, params: ['1', 'duplicate'] } },
      { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items (id, name) VALUES ($1, $2)`, params: ['1002', 'b'] } },
    ]);
    expect((r.answers![0] as { results: WireResult[] }).results[0]).toMatchObject({ command: 'INSERT', rowCount: 1 });
    expect(errorOf(r.answers![1])).toMatchObject({ code: '23505' });
    expect((r.answers![2] as { results: WireResult[] }).results[0]).toMatchObject({ command: 'INSERT', rowCount: 1 });
    expect((await admin.query(`SELECT name FROM ${schema}.items WHERE id IN (1001, 1002) ORDER BY id`)).rows).toEqual([{ name: 'a' }, { name: 'b' }]);
  });

  it("another tenant's integration id: every call is refused as not found, nothing runs", async () => {
    const r = await pipeline(readOnly, [{ operation: 'query', payload: { sql: 'SELECT 1', params: [] } }, { operation: 'query', payload: { sql: 'SELECT 2', params: [] } }], {
      integrationId: full.integrationId,
    });
    expect(r.status).toBe(200);
    expect(r.answers?.map((a) => errorOf(a).qs_code)).toEqual(['QS_NOT_FOUND', 'QS_NOT_FOUND']);
  });

  it('an unknown operation, a malformed payload and a session-only action fail in their own slot', async () => {
    const r = await pipeline(full, [
      { operation: 'frobnicate', payload: { sql: 'SELECT 1' } },
      { operation: 'query', payload: { sql: 'SELECT $1::int AS n', params: [5] } },
      { operation: 'transaction', payload: { action: 'begin' } },
      { operation: 'query', payload: { sql: 'SELECT 1 AS one', params: [] } },
    ]);
    expect(r.answers?.map((a) => ('error' in a ? a.error.qs_code : 'ok'))).toEqual(['QS_INVALID_REQUEST', 'QS_INVALID_REQUEST', 'QS_INVALID_REQUEST', 'ok']);
  });

  it('refuses malformed pipelines before running anything, in plain JSON with stable codes', async () => {
    const call = { operation: 'query', payload: { sql: 'SELECT 1', params: [] } };
    const post = (body: unknown, apiKey: string | null = full.apiKey) => api(full.url, 'POST', '/api/v2/proxy/pipeline', { ...(apiKey === null ? {} : { apiKey }), body });
    const base = { integration_id: full.integrationId, request_id: 'req_test_1' };
    const cases: Array<[string, unknown, number, string]> = [
      ['no calls', { ...base, calls: [] }, 400, 'QS_INVALID_REQUEST'],
      ['too many calls', { ...base, calls: Array.from({ length: PIPELINE_MAX_CALLS + 1 }, () => call) }, 400, 'QS_INVALID_REQUEST'],
      ['calls not an array', { ...base, calls: call }, 400, 'QS_INVALID_REQUEST'],
      ['a call asking for a session', { ...base, calls: [{ ...call, session_id: 'new' }] }, 400, 'QS_INVALID_REQUEST'],
      ['a session for the whole pipeline', { ...base, session_id: 'new', calls: [call] }, 400, 'QS_INVALID_REQUEST'],
      ['a payload that is not an object', { ...base, calls: [{ operation: 'query', payload: 'SELECT 1' }] }, 400, 'QS_INVALID_REQUEST'],
      ['no request id', { integration_id: full.integrationId, calls: [call] }, 400, 'QS_INVALID_REQUEST'],
    ];
    for (const [name, body, status, code] of cases) {
      const res = await post(body);
      expect([name, res.status, res.body.error?.code]).toEqual([name, status, code]);
    }
    expect((await post({ ...base, calls: [call] }, 'qs_live_' + 'x'.repeat(43))).status).toBe(401);
    expect((await post({ ...base, calls: [call] }, null)).status).toBe(401);
    const malformed = await api(full.url, 'POST', '/api/v2/proxy/pipeline', { apiKey: full.apiKey, rawBody: '{"calls": [' });
    expect([malformed.status, malformed.body.error?.code]).toEqual([400, 'QS_MALFORMED_JSON']);
  });

  it('the envelope is bound to the exact pipeline body: opened against another request it is refused', async () => {
    const r = await pipeline(full, [
      { operation: 'query', payload: { sql: 'SELECT 1 AS a', params: [] } },
      { operation: 'query', payload: { sql: 'SELECT 2 AS b', params: [] } },
    ]);
    expect(r.answers).toHaveLength(2);
    const opening = {
      tenantId: full.tenantId,
      requestId: r.envelope!.context.request_id,
      integrationId: full.integrationId,
      recipient: full.clientKeys.recipient,
      signingKeys: full.clientKeys.signingKeys,
      hmacKey: deriveResponseHmacKey(full.apiKey, full.tenantId),
    };
    await expect(openEnvelope(r.envelope, { ...opening, requestSha256: 'ab'.repeat(32) })).rejects.toBeInstanceOf(EnvelopeVerificationError);
    await expect(openEnvelope(r.envelope, { ...opening, requestSha256: r.envelope!.context.request_sha256!, requestId: 'req_other' })).rejects.toBeInstanceOf(
      EnvelopeVerificationError,
    );
  });
});

describe('QsPool coalescing of concurrent one-shot queries', () => {
  const poolFor = (tenant: Tenant, extra: Record<string, unknown> = {}) =>
    new QsPool({ url: tenant.url, apiKey: tenant.apiKey, clientKeys: tenant.clientKeysPath, integrationId: tenant.integrationId, max: 32, ...extra });
  const ids = Array.from({ length: 24 }, (_, i) => i + 1);
  const sql = `SELECT id, name FROM ${schema}.items WHERE id = $1`;

  it('concurrent pool.query() calls travel in pipelines and each gets exactly its own rows', async () => {
    const transport = countingTransport(full.url);
    const pool = poolFor(full, { transport });
    try {
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(ids.map((id) => pool.query(sql, [id])));
        expect(results.map((r) => r.rows)).toEqual(ids.map((id) => [{ id, name: `item ${id}` }]));
      }
    } finally {
      await pool.end();
    }
    const pipelines = transport.paths.filter((p) => p.endsWith('/pipeline')).length;
    expect(pipelines).toBeGreaterThan(0);
    // Fewer exchanges than queries: that is the point.
    expect(transport.paths.length).toBeLessThan(ids.length * 3);
  });

  it('a lone query never waits for company: sequential queries go alone, on /outbound', async () => {
    const transport = countingTransport(full.url);
    const pool = poolFor(full, { transport });
    try {
      for (const id of ids.slice(0, 5)) expect((await pool.query(sql, [id])).rows).toEqual([{ id, name: `item ${id}` }]);
    } finally {
      await pool.end();
    }
    expect(transport.paths.every((p) => p.endsWith('/proxy/outbound'))).toBe(true);
  });

  it('one failing query in a pipeline rejects alone, with its own pg error; the others resolve', async () => {
    const pool = poolFor(full);
    try {
      const outcomes = await Promise.allSettled(ids.map((id) => (id === 5 ? pool.query('SELECT 1 / ($1::int - 5) AS x', [id]) : pool.query(sql, [id]))));
      const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[i, (o.reason as { code?: string }).code]] : []));
      expect(failed).toEqual([[4, '22012']]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(ids.length - 1);
    } finally {
      await pool.end();
    }
  });

  it('each call is audited on its own, in pipelines or not', async () => {
    const before = (await auditEvents(readOnly)).length;
    const pool = poolFor(readOnly);
    try {
      await Promise.all(ids.map((id) => pool.query(sql, [id])));
    } finally {
      await pool.end();
    }
    const events = (await auditEvents(readOnly)).slice(before);
    expect(events.filter((e) => e.route === PIPELINE_ROUTE || e.route === OUTBOUND_ROUTE)).toHaveLength(ids.length);
    expect(events.some((e) => e.route === PIPELINE_ROUTE)).toBe(true);
    expect(events.every((e) => e.outcome === 'allowed' && e.rowCount === 1)).toBe(true);
  });

  it('coalesce: false sends every call alone', async () => {
    const transport = countingTransport(full.url);
    const pool = poolFor(full, { transport, coalesce: false });
    try {
      await Promise.all(ids.map((id) => pool.query(sql, [id])));
    } finally {
      await pool.end();
    }
    expect(transport.paths).toHaveLength(ids.length);
    expect(transport.paths.every((p) => p.endsWith('/proxy/outbound'))).toBe(true);
  });

  it.each([404, 413])('a proxy that refuses the pipeline with %i: every call is sent again alone and succeeds', async (status) => {
    const transport = countingTransport(full.url, { refusePipeline: status });
    const pool = poolFor(full, { transport });
    try {
      const results = await Promise.all(ids.map((id) => pool.query(sql, [id])));
      expect(results.map((r) => r.rows[0]?.id)).toEqual(ids);
      const refused = transport.paths.filter((p) => p.endsWith('/pipeline')).length;
      expect(refused).toBeGreaterThan(0);
      if (status === 404) {
        // Learned once: an older proxy is not asked again.
        await Promise.all(ids.map((id) => pool.query(sql, [id])));
        expect(transport.paths.filter((p) => p.endsWith('/pipeline')).length).toBe(refused);
      }
    } finally {
      await pool.end();
    }
  });

  it('a 404 that is not the proxy\'s own (a page of something in between) is an error, never a reason to send writes again', async () => {
    const inner = httpTransport(new URL(full.url).origin);
    const paths: string[] = [];
    const transport: QsTransport = {
      async request(req) {
        paths.push(req.path);
        if (req.path.endsWith('/pipeline')) return { status: 404, body: Buffer.from('<html>Not Found</html>'), contentType: 'text/html' };
        return inner.request(req);
      },
    };
    const pool = poolFor(full, { transport });
    try {
      const insert = `INSERT INTO ${schema}.items (id, name) VALUES ($1, 'lb') ON CONFLICT (id) DO UPDATE SET name = items.name || '+'`;
      const outcomes = await Promise.allSettled([pool.query('SELECT pg_sleep(0.05)'), ...[2001, 2002, 2003].map((id) => pool.query(insert, [id]))]);
      expect(paths.some((p) => p.endsWith('/pipeline'))).toBe(true);
      // The three INSERTs went in one pipeline that got the foreign 404: refused, not resent.
      expect(outcomes.slice(1).map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.items WHERE id >= 2001`)).rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('an integration cannot be given fields it does not have (the pipeline schema is the pipeline route\'s alone)', async () => {
    const res = await api(full.url, 'PATCH', `/api/v2/integrations/${full.integrationId}`, { apiKey: full.apiKey, body: { pipeline: { calls: [] } } });
    expect([res.status, res.body.error?.code]).toEqual([400, 'QS_INVALID_REQUEST']);
  });

  it('a query that times out in a pipeline fails alone with pg\'s timeout error; the rest of its pipeline answers', async () => {
    const pool = poolFor(full);
    try {
      // Something in flight first, so the calls below coalesce.
      const warm = pool.query('SELECT pg_sleep(0.2)');
      const slow = pool.query({ text: 'SELECT pg_sleep(1), $1::int AS n', values: [1], query_timeout: 300 } as never);
      const fast = ids.slice(0, 6).map((id) => pool.query(sql, [id]));
      await expect(slow).rejects.toMatchObject({ message: 'Query read timeout' });
      expect((await Promise.all(fast)).map((r) => r.rows[0]?.id)).toEqual(ids.slice(0, 6));
      await warm;
    } finally {
      await pool.end();
    }
  });

  it('a statement that held its pipeline up goes alone afterwards, so fast queries no longer wait for it', async () => {
    const transport = countingTransport(full.url);
    const pool = poolFor(full, { transport });
    const slowSql = 'SELECT pg_sleep(0.3), $1::int AS n';
    const round = async () => {
      const warm = pool.query('SELECT pg_sleep(0.05)'); // in flight, so the calls below coalesce
      const order: string[] = [];
      const slow = pool.query(slowSql, [1]).then(() => order.push('slow'));
      const fast = Promise.all(ids.slice(0, 6).map((id) => pool.query(sql, [id]))).then(() => order.push('fast'));
      await Promise.all([warm, slow, fast]);
      return order;
    };
    try {
      // First time: nothing known about it, it travels with the others and holds them up.
      expect(await round()).toEqual(['slow', 'fast']);
      const firstPipeline = transport.sent.find((s) => s.body.includes('pg_sleep(0.3)'));
      expect(firstPipeline?.path).toMatch(/\/pipeline$/);
      transport.sent.length = 0;
      // Then: the server said it took 300 ms; it goes alone and the fast ones answer first.
      expect(await round()).toEqual(['fast', 'slow']);
      expect(transport.sent.filter((s) => s.body.includes('pg_sleep(0.3)')).map((s) => s.path)).toEqual([expect.stringMatching(/\/proxy\/outbound$/)]);
      expect(transport.sent.some((s) => s.path.endsWith('/pipeline'))).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('refuses bad coalesce options with QS_CONFIG', () => {
    for (const coalesce of ['yes', { maxCalls: 0 }, { maxCalls: PIPELINE_MAX_CALLS + 1 }, { maxBodyBytes: 10 }, { other: 1 }]) {
      expect(() => poolFor(full, { coalesce })).toThrow(expect.objectContaining({ code: 'QS_CONFIG' }) as Error);
    }
  });
});
