/**
 * A read sent again after a reset connection runs at most once where it writes. The driver sends
 * a `query` again, byte for byte, when the connection was refused or reset before any answer; the
 * proxy may already have run it. A plain SELECT changes nothing and runs again. A SELECT that
 * writes (nextval()) is rerun by the proxy on the write pool, and the second run of the same
 * request is refused with QS_ALREADY_RUN (SQLSTATE 40003) instead of writing twice.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import { newId } from '../../src/protocol/ids.js';
import type { WireError, WireResult } from '../../src/protocol/wire.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';
import { outbound, pipeline, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';

let server: TestServer;
let tenant: Tenant;
const schema = tempSchemaName('qs_retry');
const admin = new pg.Client({ connectionString: databaseUrl() });

/** How many times nextval() of `seq` has run (a fresh sequence per test). */
async function nextvalRuns(seq: string): Promise<number> {
  const { rows } = await admin.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${schema}.${seq}`);
  return rows[0]!.is_called ? Number(rows[0]!.last_value) : 0;
}

async function freshSequence(): Promise<string> {
  const seq = `s_${newId('request').slice(-8).toLowerCase()}`;
  await admin.query(`CREATE SEQUENCE ${schema}.${seq}`);
  return seq;
}

const rowsOf = (p: unknown) => (p as { results: WireResult[] }).results[0]?.rows;
const errorOf = (p: unknown) => (p as { error: WireError }).error;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  server = await startTestServer();
  // May write (execute), so a SELECT that writes is rerun on the write pool.
  tenant = await provisionTenant(server, { allow: ['query', 'execute', 'transaction'] });
});
afterAll(async () => {
  await server?.dispose();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe('the proxy runs the same request at most once where a read writes', () => {
  it('the same bytes twice: a SELECT that writes runs once, the second is QS_ALREADY_RUN (40003)', async () => {
    const seq = await freshSequence();
    const request = { operation: 'query', payload: { sql: `SELECT nextval('${schema}.${seq}') AS n`, params: [] }, request_id: newId('request') };
    const first = await outbound(tenant, request);
    expect(rowsOf(first.payload)).toEqual([['1']]);
    const again = await outbound(tenant, request);
    expect(again.status).toBe(200);
    expect(errorOf(again.payload)).toMatchObject({ qs_code: 'QS_ALREADY_RUN', code: '40003' });
    expect(await nextvalRuns(seq)).toBe(1);
    // Audited as failed (not a policy denial), with the same request id as the run it refused.
    const events = await server.ctx.store.listAuditEvents(tenant.tenantId, { limit: 1000 });
    const mine = events.filter((e) => e.requestId === request.request_id);
    expect(mine.map((e) => [e.outcome, e.qsCode ?? null])).toEqual([
      ['allowed', null],
      ['failed', 'QS_ALREADY_RUN'],
    ]);
  });

  it('the same request id with other bytes is another request: it runs', async () => {
    const seq = await freshSequence();
    const requestId = newId('request');
    const sql = `SELECT nextval('${schema}.${seq}') AS n, $1::int AS k`;
    expect(rowsOf((await outbound(tenant, { operation: 'query', payload: { sql, params: ['1'] }, request_id: requestId })).payload)).toEqual([['1', '1']]);
    expect(rowsOf((await outbound(tenant, { operation: 'query', payload: { sql, params: ['2'] }, request_id: requestId })).payload)).toEqual([['2', '2']]);
    expect(await nextvalRuns(seq)).toBe(2);
  });

  it('a plain SELECT sent twice runs twice: it changed nothing', async () => {
    const request = { operation: 'query', payload: { sql: 'SELECT $1::int + 1 AS n', params: ['41'] }, request_id: newId('request') };
    expect(rowsOf((await outbound(tenant, request)).payload)).toEqual([['42']]);
    expect(rowsOf((await outbound(tenant, request)).payload)).toEqual([['42']]);
  });

  it('another tenant sending the same bytes is not refused for this one\'s run', async () => {
    const other = await provisionTenant(server, { allow: ['query', 'execute'] });
    const seq = await freshSequence();
    const request = { operation: 'query', payload: { sql: `SELECT nextval('${schema}.${seq}') AS n`, params: [] }, request_id: newId('request'), integration_id: undefined };
    expect(rowsOf((await outbound(tenant, { ...request, integration_id: tenant.integrationId })).payload)).toEqual([['1']]);
    expect(rowsOf((await outbound(other, { ...request, integration_id: other.integrationId })).payload)).toEqual([['2']]);
  });

  it('two copies in flight at once: exactly one runs the write', async () => {
    const seq = await freshSequence();
    // pg_sleep first, so both copies are past the read-only wall at about the same time.
    const request = { operation: 'query', payload: { sql: `SELECT pg_sleep(0.2), nextval('${schema}.${seq}')::text AS n`, params: [] }, request_id: newId('request') };
    const answers = await Promise.all([outbound(tenant, request), outbound(tenant, request)]);
    const codes = answers.map((a) => ('error' in a.payload! ? errorOf(a.payload).qs_code : 'ran')).sort();
    expect(codes).toEqual(['QS_ALREADY_RUN', 'ran']);
    expect(await nextvalRuns(seq)).toBe(1);
  });

  it('a rerun that failed after writing is not run again either: its outcome is unknown (40003)', async () => {
    const seq = await freshSequence();
    // nextval() runs (and a sequence does not roll back), then the division fails.
    const request = { operation: 'query', payload: { sql: `SELECT nextval('${schema}.${seq}') / 0 AS n`, params: [] }, request_id: newId('request') };
    expect(errorOf((await outbound(tenant, request)).payload)).toMatchObject({ code: '22012' });
    expect(errorOf((await outbound(tenant, request)).payload)).toMatchObject({ qs_code: 'QS_ALREADY_RUN' });
    expect(await nextvalRuns(seq)).toBe(1);
  });

  it('an integration that may not execute gets 25006 every time: nothing reran, nothing was claimed', async () => {
    const ddlOnly = await provisionTenant(server, { allow: ['query', 'ddl'] });
    const seq = await freshSequence();
    const request = { operation: 'query', payload: { sql: `SELECT nextval('${schema}.${seq}') AS n`, params: [] }, request_id: newId('request') };
    for (let i = 0; i < 2; i++) expect(errorOf((await outbound(ddlOnly, request)).payload)).toMatchObject({ code: '25006' });
    expect(await nextvalRuns(seq)).toBe(0);
  });

  it('a pipeline sent twice: the call that writes is refused in its own slot, the reads answer again', async () => {
    const seq = await freshSequence();
    const calls = [
      { operation: 'query', payload: { sql: 'SELECT $1::int AS n', params: ['7'] } },
      { operation: 'query', payload: { sql: `SELECT nextval('${schema}.${seq}') AS n`, params: [] } },
      { operation: 'query', payload: { sql: `SELECT nextval('${schema}.${seq}') AS n`, params: [] } },
    ];
    const requestId = newId('request');
    const first = await pipeline(tenant, calls, { requestId });
    expect(first.answers?.map(rowsOf).map((rows) => rows?.length)).toEqual([1, 1, 1]);
    const again = await pipeline(tenant, calls, { requestId });
    expect(rowsOf(again.answers?.[0])).toEqual([['7']]);
    expect(errorOf(again.answers?.[1])).toMatchObject({ qs_code: 'QS_ALREADY_RUN' });
    expect(errorOf(again.answers?.[2])).toMatchObject({ qs_code: 'QS_ALREADY_RUN' });
    expect(await nextvalRuns(seq)).toBe(2);
  });
});

/**
 * The real transport, except that the answer to the first data-plane request that `match`es is
 * lost after the proxy ran it: ECONNRESET, as when a connection breaks between the proxy's write
 * and the driver's read. `bodies` holds every data-plane body sent, in order.
 */
function losingAnswer(url: string, match: (path: string, body: string) => boolean = () => true): QsTransport & { bodies: string[]; paths: string[] } {
  const inner = httpTransport(new URL(url).origin);
  const bodies: string[] = [];
  const paths: string[] = [];
  let lost = false;
  return {
    bodies,
    paths,
    async request(req) {
      const res = await inner.request(req);
      if (!req.path.startsWith('/api/v2/proxy/')) return res;
      const body = req.body?.toString('utf8') ?? '';
      bodies.push(body);
      paths.push(req.path);
      if (lost || !match(req.path, body)) return res;
      lost = true;
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    },
  };
}

describe('QsPool after a reset that lost an answer the proxy had sent', () => {
  const poolFor = (transport: QsTransport) =>
    new QsPool({ url: tenant.url, apiKey: tenant.apiKey, integrationId: tenant.integrationId, clientKeys: tenant.clientKeysPath, transport });

  it('a plain SELECT is sent again, byte for byte, and answers', async () => {
    const transport = losingAnswer(tenant.url);
    const pool = poolFor(transport);
    try {
      const { rows } = await pool.query('SELECT $1::int * 2 AS n', [21]);
      expect(rows).toEqual([{ n: 42 }]);
      expect(transport.bodies).toHaveLength(2);
      expect(transport.bodies[1]).toBe(transport.bodies[0]);
    } finally {
      await pool.end();
    }
  });

  it('coalesced SELECTs that write: the pipeline is sent again byte for byte, each call is 40003, and each ran once', async () => {
    const seq = await freshSequence();
    const transport = losingAnswer(tenant.url, (path) => path.endsWith('/pipeline'));
    const pool = poolFor(transport);
    try {
      const sql = `SELECT nextval('${schema}.${seq}') AS n`;
      // The first goes alone; the five queued behind it travel as one pipeline.
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => pool.query(sql)));
      const pipelined = transport.paths.map((p, i) => [p, i] as const).filter(([p]) => p.endsWith('/pipeline'));
      expect(pipelined).toHaveLength(2);
      expect(transport.bodies[pipelined[1]![1]]).toBe(transport.bodies[pipelined[0]![1]]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as { code?: string }).map((e) => e.code)).toEqual(Array(5).fill('40003'));
      expect(await nextvalRuns(seq)).toBe(6);
    } finally {
      await pool.end();
    }
  });

  /**
   * On a checked-out client, after `BEGIN` when `begin`: `sql` (which calls nextval()) loses its
   * answer. It must fail with QS_TRANSPORT, never be sent again, and have run once; the bodies
   * sent with nextval in them.
   */
  async function lostInSession(sql: (seq: string) => string, begin: boolean): Promise<string[]> {
    const seq = await freshSequence();
    const transport = losingAnswer(tenant.url, (_path, body) => body.includes('nextval'));
    const pool = poolFor(transport);
    try {
      const client = await pool.connect();
      try {
        if (begin) await client.query('BEGIN');
        await expect(client.query(sql(seq))).rejects.toMatchObject({ code: 'QS_TRANSPORT' });
      } finally {
        client.release(true);
      }
      const sent = transport.bodies.filter((b) => b.includes('nextval'));
      expect(sent).toHaveLength(1);
      expect(await nextvalRuns(seq)).toBe(1);
      return sent;
    } finally {
      await pool.end();
    }
  }

  it('inside a session nothing is sent again: the statement may have run there, and the client is done', async () => {
    await lostInSession((seq) => `SELECT nextval('${schema}.${seq}') AS n`, true);
  });

  it('a statement that opens a session is not sent again: no second session, no second run', async () => {
    // pg_backend_pid() asks for a session on a checked-out client: this call carries session_id "new".
    const [sent] = await lostInSession((seq) => `SELECT nextval('${schema}.${seq}') AS n, pg_backend_pid() AS pid`, false);
    expect(JSON.parse(sent!)).toMatchObject({ session_id: 'new' });
  });

  it('a SELECT that writes is not run twice: the caller gets 40003 QS_ALREADY_RUN, and nextval() ran once', async () => {
    const seq = await freshSequence();
    const transport = losingAnswer(tenant.url);
    const pool = poolFor(transport);
    try {
      await expect(pool.query(`SELECT nextval('${schema}.${seq}') AS n`)).rejects.toMatchObject({ code: '40003' });
      expect(transport.bodies).toHaveLength(2);
      expect(await nextvalRuns(seq)).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
