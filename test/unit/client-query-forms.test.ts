import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QsClient, type QsQueryResult } from '../../src/client/qs-client.js';
import { isQsError } from '../../src/protocol/errors.js';
import type { OutboundRequest } from '../../src/protocol/wire.js';
import { field, selectResult, startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

/** Answers with the SQL and the parameters it received, so each form's encoding is visible. */
function reflect(req: OutboundRequest) {
  const p = req.payload as { sql: string; params?: Array<string | null> };
  return { results: [selectResult([field('sql', 25), field('params', 25)], [[p.sql, JSON.stringify(p.params ?? null)]])] };
}

const row = (res: unknown) => (res as QsQueryResult).rows[0] as { sql: string; params: string };

describe('QsClient.query forms', () => {
  let proxy: FakeProxy;
  let client: QsClient;

  beforeAll(async () => {
    proxy = await startFakeProxy({ handler: reflect });
    client = new QsClient({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath });
    await client.connect();
  });
  beforeEach(() => {
    proxy.handler = reflect;
  });
  afterAll(async () => {
    await client.end();
    await proxy.close();
  });

  const viaCallback = (...args: unknown[]) =>
    new Promise<{ err: Error | null; res: unknown; returned: unknown }>((resolve) => {
      const box: { returned?: unknown } = {};
      const cb = (err: Error | null, res: unknown) => resolve({ err, res, returned: box.returned });
      box.returned = (client.query as (...a: unknown[]) => unknown)(...args, cb);
    });

  it('(text) → promise', async () => {
    expect(row(await client.query('SELECT 1'))).toEqual({ sql: 'SELECT 1', params: '[]' });
  });

  it('(text, values) → promise', async () => {
    expect(row(await client.query('SELECT $1, $2', [1, 'two']))).toEqual({ sql: 'SELECT $1, $2', params: '["1","two"]' });
  });

  it('(text, values, cb) and (text, cb) return undefined and call back', async () => {
    const a = await viaCallback('SELECT $1', [5]);
    expect(a.err).toBeNull();
    expect(a.returned).toBeUndefined();
    expect(row(a.res).params).toBe('["5"]');
    const b = await viaCallback('SELECT 2');
    expect(b.err).toBeNull();
    expect(row(b.res).sql).toBe('SELECT 2');
  });

  it('({text, values}), (config, values) as Drizzle passes, and (config, cb)', async () => {
    expect(row(await client.query({ text: 'SELECT $1', values: ['x'] })).params).toBe('["x"]');
    expect(row(await client.query({ text: 'SELECT $1', rowMode: 'array' } as never, ['y'] as never))).toEqual(['SELECT $1', '["y"]']);
    const c = await viaCallback({ text: 'SELECT $1', values: ['z'] });
    expect(row(c.res).params).toBe('["z"]');
  });

  it('keeps getter-based configs working (prototype preserved, as pg does)', async () => {
    class Statement {
      get text() {
        return 'SELECT $1';
      }
      get values() {
        return [42];
      }
    }
    expect(row(await client.query(new Statement() as never)).params).toBe('["42"]');
  });

  it('serializes values exactly as pg does', async () => {
    const date = new Date(2026, 0, 2, 3, 4, 5, 6);
    const values = [null, undefined, true, 1.5, 10n, date, Buffer.from([0, 255]), [1, null, 'a"b'], { a: 1 }, { toPostgres: () => 'custom' }];
    const res = await client.query('SELECT', values);
    const expected = values.map((v) => {
      const p = (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils.prepareValue(v);
      return Buffer.isBuffer(p) ? `\\x${p.toString('hex')}` : (p ?? null);
    });
    expect(JSON.parse(row(res).params)).toEqual(expected);
    expect(JSON.parse(row(res).params)[6]).toBe('\\x00ff');
  });

  it('sends a multi-statement string without params as transaction {sql} and resolves an array', async () => {
    proxy.handler = () => ({ results: [selectResult([field('a', 23)], [['1']]), selectResult([field('b', 23)], [['2']])] });
    const res = (await client.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as QsQueryResult[];
    expect(Array.isArray(res)).toBe(true);
    expect(res.map((r) => r.rows[0])).toEqual([{ a: 1 }, { b: 2 }]);
    const last = proxy.requests.at(-1)!;
    expect(last.operation).toBe('transaction');
    expect(last.payload).toEqual({ sql: 'SELECT 1 AS a; SELECT 2 AS b' });
  });

  it('guesses the operation and opens one session on the first statement that needs it', async () => {
    const fresh = new QsClient({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath });
    const before = proxy.requests.length;
    await fresh.query('INSERT INTO t VALUES ($1)', [1]);
    await fresh.query('CREATE TABLE x (id int)');
    await fresh.query('SELECT 1');
    await fresh.end();
    const sent = proxy.requests.slice(before);
    expect(sent.map((r) => r.operation)).toEqual(['execute', 'ddl', 'query', 'transaction']);
    expect(sent[0]!.session_id).toBeUndefined();
    expect(sent[1]!.session_id).toBe('new');
    expect(sent[2]!.session_id).toMatch(/^ses_/);
    expect(sent[3]).toMatchObject({ session_id: sent[2]!.session_id, payload: { action: 'close' } });
  });

  it('SQL errors become pg DatabaseErrors (promise and callback), with qsCode for refusals', async () => {
    proxy.handler = () => ({ error: { code: '23505', message: 'duplicate key value', severity: 'ERROR', detail: 'Key (id)=(1) exists.', constraint: 't_pkey', table: 't', schema: 'public' } });
    const err = (await client.query('INSERT …').catch((e: unknown) => e)) as pg.DatabaseError & { qsCode?: string };
    expect(err).toBeInstanceOf(pg.DatabaseError);
    expect(err).toMatchObject({ code: '23505', message: 'duplicate key value', detail: 'Key (id)=(1) exists.', constraint: 't_pkey', table: 't', schema: 'public', severity: 'ERROR' });
    expect(err.qsCode).toBeUndefined();

    proxy.handler = () => ({ error: { code: '42501', message: 'operation not allowed', qs_code: 'QS_OPERATION_DENIED' } });
    const cb = await viaCallback('DELETE FROM t');
    expect(cb.res).toBeUndefined();
    expect(cb.err).toBeInstanceOf(pg.DatabaseError);
    expect(cb.err).toMatchObject({ code: '42501', qsCode: 'QS_OPERATION_DENIED' });
  });

  it('runs queries one at a time, in order', async () => {
    const order: string[] = [];
    proxy.handler = async (req) => {
      const sql = (req.payload as { sql: string }).sql;
      order.push(`start ${sql}`);
      await new Promise((r) => setTimeout(r, sql === 'SELECT slow' ? 40 : 1));
      order.push(`end ${sql}`);
      return reflect(req);
    };
    await Promise.all([client.query('SELECT slow'), client.query('SELECT fast')]);
    expect(order).toEqual(['start SELECT slow', 'end SELECT slow', 'start SELECT fast', 'end SELECT fast']);
  });

  it('refuses submittables and bad arguments clearly', () => {
    expect(() => client.query(new pg.Query('SELECT 1') as never)).toThrow(/not supported/);
    expect(() => client.query(null as never)).toThrow(TypeError);
    expect(() => client.query('SELECT 1', [], 'nope' as never)).toThrow(/callback is not a function/);
  });

  it('refuses a non-array values like pg', async () => {
    await expect(client.query({ text: 'SELECT 1', values: 'x' as never })).rejects.toThrow('Query values must be an array');
  });

  it('pre-authentication failures are QsErrors with the server code', async () => {
    const bad = new QsClient({ url: proxy.url, apiKey: 'qs_test_wrong', clientKeys: proxy.keysPath });
    const err = await bad.query('SELECT 1').catch((e: unknown) => e);
    expect(isQsError(err) && err.code).toBe('QS_UNAUTHENTICATED');
    expect(String((err as Error).message)).not.toContain('qs_test_wrong');
  });

  it('query_timeout fails with SQLSTATE 57014 and retires a session client', async () => {
    proxy.handler = async (req) => {
      await new Promise((r) => setTimeout(r, 300));
      return reflect(req);
    };
    const slow = new QsClient({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, query_timeout: 30 });
    const err = await slow.query('SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(pg.DatabaseError);
    expect(err).toMatchObject({ code: '57014', qsCode: 'QS_TIMEOUT', message: 'Query read timeout' });
    expect(slow._queryable).toBe(false);
    await expect(slow.query('SELECT 1')).rejects.toThrow(/not queryable/);
    await slow.end();
  });

  it('end(): later queries are refused, end event fires once, end() is idempotent', async () => {
    const c = new QsClient({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath });
    await c.connect();
    let ends = 0;
    c.on('end', () => ends++);
    await c.query('SELECT 1');
    await Promise.all([c.end(), c.end()]);
    await new Promise((r) => setImmediate(r));
    expect(ends).toBe(1);
    await expect(c.query('SELECT 1')).rejects.toThrow('Client was closed and is not queryable');
    await expect(c.connect()).rejects.toThrow(/already been connected/);
  });
});
