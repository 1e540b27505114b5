import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { QsClient } from '../../src/client/qs-client.js';
import { QsPool } from '../../src/client/qs-pool.js';
import { needsSession, retryInSession } from '../../src/client/session-need.js';
import { guessOperation } from '../../src/client/sql-operation-hint.js';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import { echoHandler, startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

describe('needsSession', () => {
  const needs = (sql: string) => needsSession(sql, guessOperation(sql));

  it.each([
    'SELECT * FROM users WHERE id = $1',
    '  /* c */ (SELECT 1)',
    'WITH x AS (SELECT 1) SELECT * FROM x',
    'INSERT INTO t (a) VALUES ($1) RETURNING id',
    'UPDATE t SET a = 1 WHERE id = 2',
    'DELETE FROM t',
    'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2',
    'SHOW TimeZone',
  ])('runs sessionless: %s', (sql) => {
    expect(needs(sql)).toBe(false);
  });

  it.each([
    'BEGIN',
    'start transaction isolation level serializable',
    'SAVEPOINT a',
    'SET search_path TO app',
    'RESET ALL',
    'COMMIT',
    'CREATE TEMP TABLE t (id int)',
    'CREATE TABLE t (id int)',
    'SELECT * FROM t WHERE id = 1 FOR UPDATE',
    'select * from t for no key update skip locked',
    'SELECT * FROM t FOR SHARE',
    'SELECT pg_advisory_lock(1)',
    'SELECT pg_try_advisory_xact_lock(1)',
    "SELECT set_config('search_path', 'app', false)",
    'LISTEN chan',
    'PREPARE p AS SELECT 1',
    'EXECUTE p',
    'DECLARE c CURSOR FOR SELECT 1',
    'SELECT currval($1)',
    'SELECT lastval()',
    'SELECT pg_backend_pid()',
    'CALL proc()',
    'DO $$ BEGIN END $$',
    'SELECT 1; SELECT 2',
    'LOCK TABLE t',
    'INSERT INTO temp_table VALUES (1)', // a false positive costs only a session
  ])('opens a session: %s', (sql) => {
    expect(needs(sql)).toBe(true);
  });

  it('retries in a session only what a session would accept, before anything ran', () => {
    expect(retryInSession({ code: '42501', qs_code: 'QS_OPERATION_MISMATCH' }, 'query')).toBe(true);
    expect(retryInSession({ code: '25006' }, 'query')).toBe(true);
    expect(retryInSession({ code: '25006' }, 'execute')).toBe(false);
    expect(retryInSession({ code: '42501', qs_code: 'QS_OPERATION_DENIED' }, 'query')).toBe(false);
    expect(retryInSession({ code: '23505' }, 'execute')).toBe(false);
    expect(retryInSession({ code: '42601', qs_code: 'QS_SQL_SYNTAX' }, 'query')).toBe(false);
  });
});

describe('a checked-out client opens its session lazily', () => {
  let proxy: FakeProxy;
  let httpRequests = 0;
  let pool: QsPool;

  beforeAll(async () => {
    proxy = await startFakeProxy();
    const inner = httpTransport(new URL(proxy.url).origin);
    const counting: QsTransport = {
      request(req) {
        httpRequests++;
        return inner.request(req);
      },
    };
    pool = new QsPool({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, transport: counting, max: 1 });
  });
  beforeEach(() => {
    proxy.handler = echoHandler;
    proxy.requests.length = 0;
    httpRequests = 0;
  });
  afterAll(async () => {
    await pool.end();
    await proxy.close();
  });

  const sessions = () => proxy.requests.map((r) => r.session_id ?? null);

  it('a Kysely-style checkout running one SELECT makes exactly one HTTP request', async () => {
    const client = await pool.connect();
    const res = await client.query('SELECT $1::text AS value', ['x']);
    expect(res.rows).toEqual([{ value: 'x' }]);
    client.release();
    // release() queues a close behind the statement; give it every chance to go out.
    await new Promise((r) => setTimeout(r, 20));
    expect(httpRequests).toBe(1);
    expect(sessions()).toEqual([null]);
    expect(proxy.sessions.size).toBe(0);
  });

  it('BEGIN opens the session and everything after it, COMMIT included, uses it until release', async () => {
    const client = await pool.connect();
    await client.query('SELECT 1');
    await client.query('BEGIN');
    const id = (client as unknown as QsClient).sessionId;
    expect(id).toMatch(/^ses_/);
    await client.query('INSERT INTO t VALUES ($1)', [1]);
    await client.query('COMMIT');
    await client.query('SELECT 2');
    client.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(sessions()).toEqual([null, 'new', id, id, id, id]);
    expect(proxy.requests.at(-1)!.payload).toEqual({ action: 'close' });
    expect(proxy.sessions.size).toBe(0);
    expect(httpRequests).toBe(6);
    // The next checkout of the same pooled client starts sessionless again.
    const again = await pool.connect();
    expect(again).toBe(client);
    expect((again as unknown as QsClient).sessionId).toBeNull();
    await again.query('SELECT 3');
    again.release();
    expect(proxy.requests.at(-1)!.session_id).toBeUndefined();
  });

  it('SET search_path pins the session, and later queries stay on it', async () => {
    const client = await pool.connect();
    await client.query('SET search_path TO app');
    const id = (client as unknown as QsClient).sessionId;
    await client.query('SELECT * FROM users');
    await client.query('UPDATE users SET a = 1');
    client.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(sessions()).toEqual(['new', id, id, id]);
  });

  it('a statement the proxy refuses sessionless for wanting a session is sent again on a new session', async () => {
    proxy.handler = (req, ctx) =>
      ctx.sessionId === null ? { error: { code: '25006', message: 'cannot execute INSERT in a read-only transaction' } } : echoHandler(req, ctx);
    const client = await pool.connect();
    const res = await client.query('SELECT insert_something()');
    expect(res.rows).toEqual([{ '?column?': 1 }]);
    expect(sessions()).toEqual([null, 'new']);
    expect((client as unknown as QsClient).sessionId).toMatch(/^ses_/);
    client.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(proxy.sessions.size).toBe(0);
  });

  it('other errors are not retried', async () => {
    proxy.handler = () => ({ error: { code: '23505', message: 'duplicate key value violates unique constraint "t_pkey"' } });
    const client = await pool.connect();
    await expect(client.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: '23505' });
    client.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(sessions()).toEqual([null]);
  });
});
