/**
 * pg-pool's behaviour on a QsPool through the live proxy — `max` and the waiting queue,
 * `idleTimeoutMillis`, the events, the counts — and the sessions it leaves on the server: none,
 * once clients are released or the pool has ended.
 */
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { QsClient } from '../../src/client/qs-client.js';
import { QS_POOL, type CompatEnv } from '../helpers/compat-targets.js';
import { outbound } from '../helpers/proxy-server.js';

let env: CompatEnv;
const openSessions = () => env.server!.ctx.dataPlane.openSessions();
const sessionOf = (c: pg.PoolClient) => (c as unknown as QsClient).sessionId;
const settle = () => vi.waitFor(() => expect(openSessions()).toBe(0));

beforeAll(async () => {
  env = await QS_POOL.open('qs_poolb');
});
afterAll(() => env?.close());

describe('QsPool through the proxy keeps pg-pool behaviour', () => {
  it('max bounds the clients; further checkouts wait in the queue, in order', async () => {
    const pool = env.makePool({ max: 2 });
    const a = await pool.connect();
    const b = await pool.connect();
    const order: string[] = [];
    const third = pool.connect().then((c) => (order.push('third'), c));
    const fourth = pool.connect().then((c) => (order.push('fourth'), c));
    await new Promise((r) => setImmediate(r));
    expect([pool.totalCount, pool.idleCount, pool.waitingCount]).toEqual([2, 0, 2]);
    // Both checked-out clients hold a real session on the server.
    await a.query('BEGIN');
    await b.query('BEGIN');
    expect(openSessions()).toBe(2);
    a.release();
    const c = await third;
    expect(c).toBe(a);
    expect(pool.waitingCount).toBe(1);
    b.release();
    const d = await fourth;
    expect(order).toEqual(['third', 'fourth']);
    // A handed-over client starts without the previous holder's session (it was closed on release).
    expect(sessionOf(c)).toBeNull();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    c.release();
    d.release();
    expect([pool.totalCount, pool.idleCount, pool.waitingCount]).toEqual([2, 2, 0]);
    await settle();
    await pool.end();
  });

  it('connectionTimeoutMillis rejects a checkout that waited too long', async () => {
    const pool = env.makePool({ max: 1, connectionTimeoutMillis: 50 });
    const a = await pool.connect();
    await expect(pool.connect()).rejects.toThrow('timeout exceeded when trying to connect');
    a.release();
    await pool.end();
  });

  it('emits connect, acquire, release and remove; idleTimeoutMillis removes idle clients', async () => {
    const pool = env.makePool({ idleTimeoutMillis: 50 });
    const events: string[] = [];
    for (const name of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(name, () => events.push(name));
    const client = await pool.connect();
    await client.query('SET TimeZone TO UTC');
    expect(sessionOf(client)).toMatch(/^ses_/);
    client.release();
    expect([pool.totalCount, pool.idleCount]).toEqual([1, 1]);
    await new Promise<void>((resolve) => pool.once('remove', () => resolve()));
    expect(events).toEqual(['connect', 'acquire', 'release', 'remove']);
    expect([pool.totalCount, pool.idleCount]).toEqual([0, 0]);
    await settle();
    // pool.query checks a client out and releases it too.
    events.length = 0;
    await pool.query('SELECT 1');
    expect(events).toEqual(['connect', 'acquire', 'release']);
    await pool.end();
    expect(events.at(-1)).toBe('remove');
  });

  it("an idle client's error reaches the pool's error event and removes the client", async () => {
    const pool = env.makePool();
    const client = await pool.connect();
    client.release();
    const seen = new Promise<[Error, unknown]>((resolve) => pool.once('error', (err, c) => resolve([err, c])));
    (client as unknown as EventEmitter).emit('error', new Error('connection lost'));
    const [err, from] = await seen;
    expect(err.message).toBe('connection lost');
    expect(from).toBe(client);
    expect(pool.totalCount).toBe(0);
    await pool.end();
  });

  it('release(err) destroys the client and its server session', async () => {
    const pool = env.makePool();
    const client = await pool.connect();
    await client.query('BEGIN');
    const id = sessionOf(client);
    expect(openSessions()).toBe(1);
    const removed = new Promise((resolve) => pool.once('remove', resolve));
    client.release(new Error('broken'));
    await removed;
    expect(pool.totalCount).toBe(0);
    await settle();
    const reuse = await outbound(env.tenant!, { operation: 'query', payload: { sql: 'SELECT 1', params: [] }, session_id: id });
    expect(reuse.payload).toMatchObject({ error: { qs_code: 'QS_SESSION_NOT_FOUND' } });
    await pool.end();
  });

  it('a checked-out client that only reads opens no session at all', async () => {
    const pool = env.makePool();
    const client = await pool.connect();
    await client.query('SELECT 1');
    await client.query(`SELECT count(*) FROM pg_class WHERE relname = $1`, ['nope']);
    expect(sessionOf(client)).toBeNull();
    expect(openSessions()).toBe(0);
    client.release();
    await pool.end();
  });

  it('pool.end() closes every session on the server; a session id used afterwards is QS_SESSION_NOT_FOUND', async () => {
    const pool = env.makePool({ max: 5 });
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const c of clients) await c.query('BEGIN');
    const ids = clients.map(sessionOf);
    expect(new Set(ids).size).toBe(3);
    expect(openSessions()).toBe(3);
    clients[0]!.release();
    clients[1]!.release();
    let ended = false;
    const ending = pool.end().then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 20));
    // As with pg, end() waits for the client still checked out.
    expect(ended).toBe(false);
    clients[2]!.release();
    await ending;
    expect(openSessions()).toBe(0);
    for (const id of ids) {
      const r = await outbound(env.tenant!, { operation: 'query', payload: { sql: 'SELECT 1', params: [] }, session_id: id });
      expect(r.payload).toMatchObject({ error: { qs_code: 'QS_SESSION_NOT_FOUND', code: '08003' } });
    }
    await expect(pool.query('SELECT 1')).rejects.toThrow('Cannot use a pool after calling end on the pool');
  });
});
