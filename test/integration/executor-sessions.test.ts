import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import { isId } from '../../src/protocol/ids.js';
import { Executor } from '../../src/server/executor/executor.js';
import { PoolManager } from '../../src/server/executor/pool-manager.js';
import type { ExecutionLimits, ExecutionTarget } from '../../src/server/executor/types.js';

const DSN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const suffix = randomBytes(4).toString('hex');
const schema = `qs_exec_sess_${suffix}`;
const table = `${schema}.items`;
// Advisory lock keys derived from the suffix so parallel suites never collide.
const lockKey = String(parseInt(suffix, 16));

let admin: pg.Client;
let executor: Executor;

function target(limits: ExecutionLimits = {}, integrationId = `int_sess_${suffix}`): ExecutionTarget {
  return { integrationId, credentialId: 'cred_sess', credentialVersion: 1, getDsn: async () => DSN, limits };
}

async function expectQsCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isQsError(err) ? err.code : err).toBe(code);
}

async function count(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n);
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: DSN });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, v text)`);
  executor = new Executor({ poolOptions: { max: 3 } });
});

afterAll(async () => {
  await executor?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

describe('executor sessions', () => {
  it('BEGIN / INSERT / ROLLBACK on a session leaves nothing behind', async () => {
    const t = target();
    const first = await executor.run({ target: t, mode: 'write', statements: [{ sql: 'BEGIN' }], batch: false, sessionId: 'new' });
    const id = first.sessionId;
    expect(isId('session', id)).toBe(true);
    await executor.run({ target: t, mode: 'write', statements: [{ sql: `INSERT INTO ${table} (v) VALUES ($1)`, params: ['x'] }], batch: false, sessionId: id });
    expect(executor.sessions.get(id as string, t.integrationId).inTransaction).toBe(true);
    const seen = await executor.run({ target: t, mode: 'read', statements: [{ sql: `SELECT count(*) FROM ${table}` }], batch: false, sessionId: id });
    expect(seen.results[0]?.rows).toEqual([['1']]);
    expect(await count()).toBe(0);
    await executor.run({ target: t, mode: 'write', statements: [{ sql: 'ROLLBACK' }], batch: false, sessionId: id, closeSession: true });
    expect(await count()).toBe(0);
    expect(() => executor.sessions.get(id as string, t.integrationId)).toThrow(/session/);
  });

  it('keeps SET search_path inside the session only, not in the next session on the same connection', async () => {
    // One connection per pool, so the next session and the sessionless query reuse it.
    const pools = new PoolManager({ max: 1 });
    const ex = new Executor({ pools });
    const t = target({ statement_timeout_ms: 5000 }, `int_sess_path_${suffix}`);
    try {
      const run = (sql: string, sessionId?: string | null, closeSession = false) =>
        ex.run({ target: t, mode: 'write', statements: [{ sql }], batch: false, sessionId, closeSession });
      const a = await run(`SET search_path TO ${schema}`, 'new');
      const pid = (await run('SELECT pg_backend_pid()', a.sessionId)).results[0]?.rows[0]?.[0];
      expect((await run('SHOW search_path', a.sessionId)).results[0]?.rows).toEqual([[schema]]);
      expect((await run('SELECT count(*) FROM items', a.sessionId)).results[0]?.rows).toEqual([['0']]);
      await run('SET statement_timeout = 0', a.sessionId);
      await run('SELECT 1', a.sessionId, true);

      const b = await run('SHOW search_path', 'new');
      expect(b.results[0]?.rows).not.toEqual([[schema]]);
      // The reset restores the connection's startup settings, not PostgreSQL's defaults.
      expect((await run('SHOW statement_timeout', b.sessionId)).results[0]?.rows).toEqual([['5s']]);
      expect((await run('SELECT pg_backend_pid()', b.sessionId, true)).results[0]?.rows[0]?.[0]).toBe(pid);
      const sessionless = await run('SHOW search_path');
      expect(sessionless.results[0]?.rows).not.toEqual([[schema]]);
    } finally {
      await ex.close();
    }
  });

  it('rolls back and forgets a session idle past its timeout', async () => {
    const t = target({ session_idle_timeout_ms: 300 }, `int_sess_idle_${suffix}`);
    const opened = await executor.run({ target: t, mode: 'write', statements: [{ sql: 'BEGIN' }, { sql: `INSERT INTO ${table} (v) VALUES ('idle')` }], batch: false, sessionId: 'new' });
    expect(executor.sessions.stats().byIntegration[t.integrationId]).toBe(1);
    await new Promise((r) => setTimeout(r, 700));
    await expectQsCode(
      executor.run({ target: t, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false, sessionId: opened.sessionId }),
      'QS_SESSION_NOT_FOUND',
    );
    expect(await count()).toBe(0);
    expect(executor.sessions.stats().byIntegration[t.integrationId]).toBeUndefined();
  });

  it('holds an advisory lock for the life of the session and frees it on close', async () => {
    const t = target();
    const s = await executor.run({ target: t, mode: 'read', statements: [{ sql: 'SELECT pg_advisory_lock($1)', params: [lockKey] }], batch: false, sessionId: 'new' });
    const other = async (): Promise<boolean> => {
      const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey]);
      if (rows[0]?.ok) await admin.query('SELECT pg_advisory_unlock($1)', [lockKey]);
      return rows[0]?.ok === true;
    };
    expect(await other()).toBe(false);
    // Sessionless queries meanwhile do not see or share the lock.
    await executor.run({ target: t, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false });
    expect(await other()).toBe(false);
    await executor.sessions.close(s.sessionId as string);
    expect(await other()).toBe(true);
  });

  it('refuses sessions past max_sessions with QS_SESSION_LIMIT and frees a slot on close', async () => {
    const t = target({ max_sessions: 2 }, `int_sess_cap_${suffix}`);
    const open = () => executor.run({ target: t, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false, sessionId: 'new' });
    const a = await open();
    await open();
    await expectQsCode(open(), 'QS_SESSION_LIMIT');
    await executor.sessions.close(a.sessionId as string);
    const c = await open();
    expect(c.sessionId).toMatch(/^ses_/);
    await executor.sessions.closeAllFor(t.integrationId);
    expect(executor.sessions.stats().byIntegration[t.integrationId]).toBeUndefined();
  });

  it("answers another integration's session id with QS_SESSION_NOT_FOUND", async () => {
    const mine = target();
    const theirs = target({}, `int_sess_other_${suffix}`);
    const s = await executor.run({ target: mine, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false, sessionId: 'new' });
    await expectQsCode(
      executor.run({ target: theirs, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false, sessionId: s.sessionId }),
      'QS_SESSION_NOT_FOUND',
    );
    await expectQsCode(
      executor.run({ target: mine, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false, sessionId: 'ses_01ARZ3NDEKTSV4RRFFQ69G5FAV' }),
      'QS_SESSION_NOT_FOUND',
    );
    await executor.sessions.close(s.sessionId as string);
  });

  it('runs concurrent calls on one session one at a time, in order', async () => {
    const t = target();
    const s = await executor.run({ target: t, mode: 'write', statements: [{ sql: 'BEGIN' }], batch: false, sessionId: 'new' });
    const id = s.sessionId;
    const calls = [0, 1, 2, 3].map((i) =>
      executor.run({ target: t, mode: 'write', statements: [{ sql: `INSERT INTO ${table} (v) SELECT $1 FROM pg_sleep(0.02)`, params: [String(i)] }], batch: false, sessionId: id }),
    );
    await Promise.all(calls);
    const { results } = await executor.run({ target: t, mode: 'read', statements: [{ sql: `SELECT v FROM ${table} ORDER BY id` }], batch: false, sessionId: id });
    expect(results[0]?.rows).toEqual([['0'], ['1'], ['2'], ['3']]);
    await executor.run({ target: t, mode: 'write', statements: [{ sql: 'ROLLBACK' }], batch: false, sessionId: id, closeSession: true });
    expect(await count()).toBe(0);
  });

  it('closes a new session whose first call failed, and rolls back open sessions on close', async () => {
    const t = target({}, `int_sess_fail_${suffix}`);
    await expect(executor.run({ target: t, mode: 'read', statements: [{ sql: 'SELECT * FROM no_such_table_qs' }], batch: false, sessionId: 'new' })).rejects.toMatchObject({ code: '42P01' });
    expect(executor.sessions.stats().byIntegration[t.integrationId]).toBeUndefined();

    const s = await executor.run({ target: t, mode: 'write', statements: [{ sql: 'BEGIN' }, { sql: `INSERT INTO ${table} (v) VALUES ('closing')` }], batch: false, sessionId: 'new' });
    expect(executor.sessions.stats().inTransaction).toBeGreaterThanOrEqual(1);
    await executor.sessions.closeAllFor(t.integrationId);
    expect(await count()).toBe(0);
    await expectQsCode(executor.run({ target: t, mode: 'read', statements: [{ sql: 'SELECT 1' }], batch: false, sessionId: s.sessionId }), 'QS_SESSION_NOT_FOUND');
  });
});
