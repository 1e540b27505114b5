import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsClient } from '../../src/client/qs-client.js';
import { QsPool, type QsPoolConfig } from '../../src/client/qs-pool.js';
import { startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

describe('QsPool is a real pg.Pool', () => {
  let proxy: FakeProxy;
  const opts = (extra: Partial<QsPoolConfig> = {}): QsPoolConfig => ({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, ...extra });
  const closes = () => proxy.requests.filter((r) => (r.payload as { action?: string }).action === 'close');

  beforeAll(async () => {
    proxy = await startFakeProxy();
  });
  afterAll(() => proxy.close());

  it('passes the checks ORMs make', async () => {
    const pool = new QsPool(opts());
    expect(pool).toBeInstanceOf(pg.Pool);
    expect(pool.constructor.name).toContain('Pool');
    const client = await pool.connect();
    expect(client).toBeInstanceOf(QsClient);
    client.release();
    await pool.end();
  });

  it('bounds clients by max and queues waiters', async () => {
    const pool = new QsPool(opts({ max: 2 }));
    const a = await pool.connect();
    const b = await pool.connect();
    const third = pool.connect();
    await new Promise((r) => setImmediate(r));
    expect(pool.totalCount).toBe(2);
    expect(pool.waitingCount).toBe(1);
    a.release();
    const c = await third;
    expect(c).toBe(a);
    expect(pool.waitingCount).toBe(0);
    b.release();
    c.release();
    expect(pool.idleCount).toBe(2);
    await pool.end();
  });

  it('times out a waiting checkout with connectionTimeoutMillis', async () => {
    const pool = new QsPool(opts({ max: 1, connectionTimeoutMillis: 30 }));
    const a = await pool.connect();
    await expect(pool.connect()).rejects.toThrow('timeout exceeded when trying to connect');
    a.release();
    await pool.end();
  });

  it('emits connect, acquire, release and remove; idleTimeoutMillis removes idle clients', async () => {
    const pool = new QsPool(opts({ idleTimeoutMillis: 30 }));
    const events: string[] = [];
    for (const name of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(name, () => events.push(name));
    const client = await pool.connect();
    await client.query('SELECT 1');
    client.release();
    expect(pool.idleCount).toBe(1);
    await new Promise<void>((resolve) => pool.once('remove', () => resolve()));
    expect(events).toEqual(['connect', 'acquire', 'release', 'remove']);
    expect(pool.totalCount).toBe(0);
    await pool.end();
  });

  it('pool.query() is sessionless; a pool.connect() client pins a session until release()', async () => {
    const pool = new QsPool(opts({ max: 1 }));
    const start = proxy.requests.length;
    await pool.query('SELECT 1');
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT 2');
    const sessionId = (client as unknown as QsClient).sessionId;
    expect(sessionId).toMatch(/^ses_/);
    client.release();
    // The same pooled client, now one-shot again for pool.query, stays sessionless.
    await pool.query('SELECT 3');
    const sent = proxy.requests.slice(start);
    expect(sent.map((r) => [r.operation, r.session_id ?? null])).toEqual([
      ['query', null],
      ['transaction', 'new'],
      ['query', sessionId],
      ['transaction', sessionId],
      ['query', null],
    ]);
    expect(sent[3]!.payload).toEqual({ action: 'close' });
    expect(proxy.sessions.has(sessionId!)).toBe(false);
    await pool.end();
  });

  it('release(true) destroys the client and closes its session', async () => {
    const pool = new QsPool(opts());
    const client = await pool.connect();
    await client.query('SET search_path TO public');
    const sessionId = (client as unknown as QsClient).sessionId!;
    expect(sessionId).toMatch(/^ses_/);
    expect(proxy.sessions.has(sessionId)).toBe(true);
    const removed = new Promise((resolve) => pool.once('remove', resolve));
    client.release(true);
    await removed;
    expect(pool.totalCount).toBe(0);
    expect(proxy.sessions.has(sessionId)).toBe(false);
    await pool.end();
  });

  it('pool.end() closes the sessions of checked-out clients once they are released', async () => {
    const pool = new QsPool(opts());
    const before = closes().length;
    const a = await pool.connect();
    const b = await pool.connect();
    const unused = await pool.connect();
    await a.query('BEGIN');
    await b.query('BEGIN');
    const ids = [a, b].map((c) => (c as unknown as QsClient).sessionId!);
    for (const id of ids) expect(proxy.sessions.has(id)).toBe(true);
    a.release();
    unused.release();
    const ended = pool.end();
    b.release();
    await ended;
    expect(closes().length - before).toBe(2);
    for (const id of ids) expect(proxy.sessions.has(id)).toBe(false);
    expect(pool.ended).toBe(true);
    await expect(pool.query('SELECT 1')).rejects.toThrow('Cannot use a pool after calling end on the pool');
  });

  it('pool.query supports callbacks and reports errors like pg', async () => {
    const pool = new QsPool(opts());
    const res = await new Promise<pg.QueryResult>((resolve, reject) => pool.query('SELECT 1', (err: Error | undefined, r: pg.QueryResult) => (err ? reject(err) : resolve(r))));
    expect(res.rows).toEqual([{ '?column?': 1 }]);
    await pool.end();
  });
});
