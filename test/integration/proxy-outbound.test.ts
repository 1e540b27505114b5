import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireError, WireResult } from '../../src/protocol/wire.js';
import { api, outbound, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';

let server: TestServer;
let full: Tenant;
let readOnly: Tenant;
const schema = tempSchemaName('qs_proxy');
const admin = new pg.Client({ connectionString: databaseUrl() });

const results = (r: { payload?: unknown }) => (r.payload as { results: WireResult[] }).results;
const error = (r: { payload?: unknown }) => (r.payload as { error: WireError }).error;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text NOT NULL UNIQUE)`);
  server = await startTestServer();
  full = await provisionTenant(server, { allow: ['query', 'execute', 'transaction'] });
  readOnly = await provisionTenant(server, { allow: ['query'] });
});
afterAll(async () => {
  await server?.dispose();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

const count = async () => Number((await admin.query(`SELECT count(*) FROM ${schema}.items`)).rows[0].count);

describe('POST /api/v2/proxy/outbound', () => {
  it('runs a parameterized query and answers with a verified envelope', async () => {
    const r = await outbound(full, { operation: 'query', payload: { sql: 'SELECT $1::int + 1 AS n, $2::text AS t', params: ['41', null] } });
    expect(r.status).toBe(200);
    expect(r.envelope?.audit_event_id).toMatch(/^aud_/);
    expect(results(r)[0]).toMatchObject({ command: 'SELECT', rowCount: 1, rows: [['42', null]] });
    expect(results(r)[0]?.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
      ['n', 23],
      ['t', 25],
    ]);
  });

  it('answers the binary envelope form when Accept asks for it, JSON otherwise; both open to the same rows', async () => {
    const sql = { operation: 'query', payload: { sql: 'SELECT $1::text AS t', params: ['same rows'] } };
    const binary = await outbound(full, sql, { accept: 'application/vnd.quantaseal.envelope, application/json;q=0.5' });
    const json = await outbound(full, sql);
    const refused = await outbound(full, sql, { accept: 'application/vnd.quantaseal.envelope;q=0, application/json' });
    expect(binary.contentType).toBe('application/vnd.quantaseal.envelope');
    expect(json.contentType).toMatch(/^application\/json/);
    expect(refused.contentType).toMatch(/^application\/json/);
    for (const r of [binary, json, refused]) expect(results(r)[0]?.rows).toEqual([['same rows']]);
    // Before authentication there is no envelope: plain JSON whatever was asked for.
    const anonymous = await outbound(full, sql, { apiKey: 'qs_wrong', accept: 'application/vnd.quantaseal.envelope' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.contentType).toMatch(/^application\/json/);
  });

  it('reuses an encapsulation per tenant for a moment: same ct_kem, fresh nonces, never across tenants', async () => {
    const sql = { operation: 'query', payload: { sql: 'SELECT 1 AS one', params: [] } };
    const [a, b, other] = [await outbound(full, sql), await outbound(full, sql), await outbound(readOnly, sql)];
    expect(b.envelope?.encrypted.ciphertext_kem).toBe(a.envelope?.encrypted.ciphertext_kem);
    expect(b.envelope?.encrypted.nonce).not.toBe(a.envelope?.encrypted.nonce);
    expect(other.envelope?.encrypted.ciphertext_kem).not.toBe(a.envelope?.encrypted.ciphertext_kem);
  });

  it('no answer leaves without its audit event: a failed commit fails the call, though the envelope was sealed meanwhile', async () => {
    const store = server.ctx.store;
    const original = store.appendAuditEvents.bind(store);
    let attempts = 0;
    store.appendAuditEvents = async () => {
      attempts++;
      throw new Error('disk full');
    };
    try {
      const r = await outbound(full, { operation: 'query', payload: { sql: 'SELECT 1 AS one', params: [] } });
      expect(attempts).toBeGreaterThan(0);
      expect(r.envelope).toBeUndefined();
      expect(r.status).toBe(500);
      expect(r.plain?.error.code).toBe('QS_INTERNAL');
      expect(JSON.stringify(r.plain)).not.toContain('disk full');
      // A control-plane call whose audit event cannot be stored does not answer success either.
      const listed = await api(full.url, 'GET', '/api/v2/integrations', { apiKey: full.apiKey });
      expect(listed.status).toBe(500);
      expect(listed.body.error?.code).toBe('QS_INTERNAL');
      expect(JSON.stringify(listed.body)).not.toContain('disk full');
    } finally {
      store.appendAuditEvents = original;
    }
    expect(results(await outbound(full, { operation: 'query', payload: { sql: 'SELECT 1 AS one', params: [] } }))[0]?.rows).toEqual([['1']]);
  });

  it('/metrics counts envelopes and the ML-DSA-65 signatures that covered them', async () => {
    const gauge = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    const [e0, s0] = [await gauge('quantaseal_signer_envelopes'), await gauge('quantaseal_signer_signatures')];
    const sql = { operation: 'query', payload: { sql: 'SELECT 1 AS one', params: [] } };
    await Promise.all(Array.from({ length: 12 }, () => outbound(full, sql)));
    const [e1, s1] = [await gauge('quantaseal_signer_envelopes'), await gauge('quantaseal_signer_signatures')];
    expect(e1 - e0).toBe(12);
    expect(s1 - s0).toBeGreaterThanOrEqual(1);
    expect(s1 - s0).toBeLessThanOrEqual(12);
  });

  it('keeps every DatabaseError field of a PostgreSQL error', async () => {
    await outbound(full, { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['1', 'one'] } });
    const r = await outbound(full, { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['2', 'one'] } });
    expect(r.envelope?.success).toBe(false);
    expect(error(r)).toMatchObject({ code: '23505', constraint: 'items_name_key', table: 'items', schema, severity: 'ERROR' });
    expect(error(r).detail).toContain('already exists');
  });

  it('a SELECT that writes hits the read-only wall without execute, and runs like direct pg with it', async () => {
    await admin.query(`CREATE SEQUENCE IF NOT EXISTS ${schema}.seq`);
    const sql = `SELECT nextval('${schema}.seq') AS n`;
    expect(error(await outbound(readOnly, { operation: 'query', payload: { sql } })).code).toBe('25006');
    const before = Number((await admin.query(`SELECT last_value FROM ${schema}.seq`)).rows[0].last_value);
    const ok = await outbound(full, { operation: 'query', payload: { sql } });
    expect(Number(results(ok)[0]?.rows[0]?.[0])).toBeGreaterThanOrEqual(before);
  });

  describe('default deny', () => {
    it('an integration allowing only query refuses INSERT as execute, as a batch and inside a session', async () => {
      const before = await count();
      const insert = { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['50', 'x'] };
      const asExecute = await outbound(readOnly, { operation: 'execute', payload: insert });
      expect(error(asExecute)).toMatchObject({ qs_code: 'QS_OPERATION_DENIED', code: '42501' });
      const asBatch = await outbound(readOnly, { operation: 'transaction', payload: { statements: [insert] } });
      expect(error(asBatch).qs_code).toBe('QS_OPERATION_DENIED');
      const inSession = await outbound(readOnly, { operation: 'query', payload: insert, session_id: 'new' });
      expect(error(inSession).qs_code).toMatch(/QS_OPERATION_(DENIED|MISMATCH)/);
      expect(await count()).toBe(before);
    });

    it('an integration that may not write gets read-only connections everywhere: a writing function fails in sessions and batches too', async () => {
      await admin.query(`CREATE OR REPLACE FUNCTION ${schema}.wipe() RETURNS int LANGUAGE sql AS $$ DELETE FROM ${schema}.items RETURNING 1; SELECT 1 $$`);
      await admin.query(`INSERT INTO ${schema}.items VALUES (90, 'ninety') ON CONFLICT DO NOTHING`);
      const t = await provisionTenant(server, { allow: ['query', 'transaction'] });
      const before = await count();
      const call = `SELECT ${schema}.wipe()`;
      expect(error(await outbound(t, { operation: 'query', payload: { sql: call } })).code).toBe('25006');
      expect(error(await outbound(t, { operation: 'query', payload: { sql: call }, session_id: 'new' })).code).toBe('25006');
      expect(error(await outbound(t, { operation: 'transaction', payload: { statements: [{ sql: call }] } })).code).toBe('25006');
      const begin = await outbound(t, { operation: 'transaction', payload: { sql: 'BEGIN' }, session_id: 'new' });
      const sid = (begin.payload as { session_id: string }).session_id;
      expect(error(await outbound(t, { operation: 'query', payload: { sql: call }, session_id: sid })).code).toBe('25006');
      await outbound(t, { operation: 'transaction', payload: { action: 'close' }, session_id: sid });
      expect(await count()).toBe(before);
    });

    it('an integration allowing query+transaction still refuses an INSERT inside its session', async () => {
      const t = await provisionTenant(server, { allow: ['query', 'transaction'] });
      const before = await count();
      const begin = await outbound(t, { operation: 'transaction', payload: { sql: 'BEGIN' }, session_id: 'new' });
      const sessionId = (begin.payload as { session_id: string }).session_id;
      expect(sessionId).toMatch(/^ses_/);
      const ins = await outbound(t, { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['51', 'y'] }, session_id: sessionId });
      expect(error(ins).qs_code).toBe('QS_OPERATION_DENIED');
      const multi = await outbound(t, { operation: 'transaction', payload: { sql: `BEGIN; INSERT INTO ${schema}.items VALUES (52, 'z'); COMMIT` } });
      expect(error(multi).qs_code).toBe('QS_OPERATION_DENIED');
      await outbound(t, { operation: 'transaction', payload: { action: 'close' }, session_id: sessionId });
      expect(await count()).toBe(before);
    });
  });

  describe('hostile SQL is refused, audited, and changes nothing', () => {
    const cases: Array<[string, string, unknown, string, string]> = [
      ['stacked statements', 'query', { sql: `SELECT 1; DELETE FROM ${schema}.items` }, 'QS_MULTI_STATEMENT', '42501'],
      ['writable CTE as query', 'query', { sql: `WITH d AS (DELETE FROM ${schema}.items RETURNING *) SELECT * FROM d` }, 'QS_OPERATION_MISMATCH', '42501'],
      ['DELETE as query', 'query', { sql: `DELETE FROM ${schema}.items` }, 'QS_OPERATION_MISMATCH', '42501'],
      ['SELECT INTO', 'query', { sql: `SELECT * INTO ${schema}.stolen FROM ${schema}.items` }, 'QS_OPERATION_MISMATCH', '42501'],
      ['SET ROLE', 'transaction', { sql: 'SET ROLE postgres' }, 'QS_STATEMENT_NOT_ALLOWED', '42501'],
      ['COPY', 'query', { sql: `COPY ${schema}.items TO '/tmp/x'` }, 'QS_STATEMENT_NOT_ALLOWED', '42501'],
      ['DO block', 'execute', { sql: `DO $$ BEGIN DELETE FROM ${schema}.items; END $$` }, 'QS_STATEMENT_NOT_ALLOWED', '42501'],
      ['DROP TABLE without ddl', 'execute', { sql: `DROP TABLE ${schema}.items` }, 'QS_OPERATION_MISMATCH', '42501'],
      ['ddl operation not allowed', 'ddl', { sql: `DROP TABLE ${schema}.items` }, 'QS_OPERATION_DENIED', '42501'],
      ['syntax error', 'query', { sql: 'SELEC 1' }, 'QS_SQL_SYNTAX', '42601'],
      ['unknown operation', 'explode', { sql: 'SELECT 1' }, 'QS_INVALID_REQUEST', '08P01'],
      ['params of the wrong type', 'query', { sql: 'SELECT $1', params: [{ a: 1 }] }, 'QS_INVALID_REQUEST', '08P01'],
      ['unknown payload field', 'query', { sql: 'SELECT 1', params: [], extra: true }, 'QS_INVALID_REQUEST', '08P01'],
      ['unknown session', 'query', { sql: 'SELECT 1' }, 'QS_SESSION_NOT_FOUND', '08003'],
    ];
    for (const [name, operation, payload, qsCode, sqlstate] of cases) {
      it(`${name} → ${qsCode}`, async () => {
        const before = await count();
        const r = await outbound(full, { operation, payload, ...(name === 'unknown session' ? { session_id: 'ses_00000000000000000000000000' } : {}) });
        expect(r.status).toBe(200);
        expect(r.envelope?.success).toBe(false);
        expect(error(r)).toMatchObject({ qs_code: qsCode, code: sqlstate });
        expect(await count()).toBe(before);
        const audit = await api(server.url, 'GET', '/api/v2/audit?limit=1000', { apiKey: full.apiKey });
        const event = (audit.body.events as Array<{ audit_event_id: string; outcome: string; qs_code: string }>).find((e) => e.audit_event_id === r.envelope?.audit_event_id);
        expect(event).toMatchObject({ qs_code: qsCode });
        expect(['denied', 'failed']).toContain(event?.outcome);
      });
    }

    it('another tenant’s integration id is a 404 inside the envelope', async () => {
      const r = await outbound(readOnly, { operation: 'query', payload: { sql: 'SELECT 1' }, integration_id: full.integrationId });
      expect(error(r).qs_code).toBe('QS_NOT_FOUND');
    });

    it('a missing or wrong API key is a plain 401, not an envelope', async () => {
      const r = await outbound(full, { operation: 'query', payload: { sql: 'SELECT 1' } }, { apiKey: 'qs_live_' + 'A'.repeat(43) });
      expect(r.status).toBe(401);
      expect(r.plain?.error.code).toBe('QS_UNAUTHENTICATED');
    });

    it('a request id with control characters is refused before anything runs', async () => {
      const r = await api(server.url, 'POST', '/api/v2/proxy/outbound', {
        apiKey: full.apiKey,
        body: { integration_id: full.integrationId, operation: 'query', request_id: 'x\u0000y', payload: { sql: 'SELECT 1' } },
      });
      expect(r.status).toBe(400);
      expect(r.body.error?.code).toBe('QS_INVALID_REQUEST');
    });

    it('malformed JSON and oversize bodies are plain 400/413', async () => {
      const bad = await api(server.url, 'POST', '/api/v2/proxy/outbound', { apiKey: full.apiKey, rawBody: '{"integration_id":' });
      expect(bad.status).toBe(400);
      expect(bad.body.error?.code).toBe('QS_MALFORMED_JSON');
      const huge = await api(server.url, 'POST', '/api/v2/proxy/outbound', {
        apiKey: full.apiKey,
        rawBody: JSON.stringify({ integration_id: full.integrationId, operation: 'query', request_id: 'r', payload: { sql: 'SELECT $1', params: ['x'.repeat(9 * 1024 * 1024)] } }),
      });
      expect(huge.status).toBe(413);
      expect(huge.body.error?.code).toBe('QS_BODY_TOO_LARGE');
    });
  });

  describe('sessions', () => {
    it('BEGIN / INSERT / ROLLBACK leaves nothing', async () => {
      const before = await count();
      const begin = await outbound(full, { operation: 'transaction', payload: { sql: 'BEGIN' }, session_id: 'new' });
      const sid = (begin.payload as { session_id: string }).session_id;
      const ins = await outbound(full, { operation: 'execute', payload: { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['60', 'sixty'] }, session_id: sid });
      expect(results(ins)[0]).toMatchObject({ command: 'INSERT', rowCount: 1 });
      const inside = await outbound(full, { operation: 'query', payload: { sql: `SELECT count(*) FROM ${schema}.items` }, session_id: sid });
      expect(results(inside)[0]?.rows[0]?.[0]).toBe(String(before + 1));
      expect(await count()).toBe(before);
      await outbound(full, { operation: 'transaction', payload: { sql: 'ROLLBACK' }, session_id: sid });
      await outbound(full, { operation: 'transaction', payload: { action: 'close' }, session_id: sid });
      expect(await count()).toBe(before);
    });

    it('SET search_path persists within a session and not outside it', async () => {
      const set = await outbound(full, { operation: 'transaction', payload: { sql: `SET search_path TO ${schema}` }, session_id: 'new' });
      const sid = (set.payload as { session_id: string }).session_id;
      const inSession = await outbound(full, { operation: 'query', payload: { sql: 'SHOW search_path' }, session_id: sid });
      expect(results(inSession)[0]?.rows[0]?.[0]).toBe(schema);
      const outside = await outbound(full, { operation: 'query', payload: { sql: 'SHOW search_path' } });
      expect(results(outside)[0]?.rows[0]?.[0]).not.toBe(schema);
      await outbound(full, { operation: 'transaction', payload: { action: 'close' }, session_id: sid });
      const closed = await outbound(full, { operation: 'query', payload: { sql: 'SELECT 1' }, session_id: sid });
      expect(error(closed).qs_code).toBe('QS_SESSION_NOT_FOUND');
    });

    it('a batch is all-or-nothing', async () => {
      const before = await count();
      const r = await outbound(full, {
        operation: 'transaction',
        payload: {
          statements: [
            { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['70', 'seventy'] },
            { sql: `INSERT INTO ${schema}.items VALUES ($1, $2)`, params: ['71', 'one'] },
          ],
        },
      });
      expect(error(r).code).toBe('23505');
      expect(await count()).toBe(before);
    });
  });

  describe('connection failures map to stable codes', () => {
    it('an unreachable database → QS_DB_UNAVAILABLE; an unknown role → QS_DB_AUTH_FAILED with the rotate advice', async () => {
      const dead = await provisionTenant(server, { allow: ['query'], dsn: 'postgres://postgres@127.0.0.1:1/test', verify: false });
      expect(error(await outbound(dead, { operation: 'query', payload: { sql: 'SELECT 1' } })).qs_code).toBe('QS_DB_UNAVAILABLE');
      const url = new URL(databaseUrl());
      url.username = 'qs_no_such_role';
      url.password = 'hunter2';
      const badAuth = await provisionTenant(server, { allow: ['query'], dsn: url.toString(), verify: false });
      const e = error(await outbound(badAuth, { operation: 'query', payload: { sql: 'SELECT 1' } }));
      expect(e.qs_code).toBe('QS_DB_AUTH_FAILED');
      expect(e.message).toContain('/api/v2/vault/rotate/');
      expect(JSON.stringify(e)).not.toContain('hunter2');
    });
  });
});
