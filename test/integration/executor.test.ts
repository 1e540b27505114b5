import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsError, isQsError } from '../../src/protocol/errors.js';
import { toWireError } from '../../src/server/executor/errors.js';
import { Executor } from '../../src/server/executor/executor.js';
import { PoolManager } from '../../src/server/executor/pool-manager.js';
import type { ExecutionLimits, ExecutionTarget } from '../../src/server/executor/types.js';

const DSN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const suffix = randomBytes(4).toString('hex');
const schema = `qs_exec_${suffix}`;
const table = `${schema}.items`;
const role = `qs_exec_role_${suffix}`;

let admin: pg.Client;
let executor: Executor;

function target(limits: ExecutionLimits = {}, integrationId = `int_exec_${suffix}`, dsn = DSN): ExecutionTarget {
  return { integrationId, credentialId: `cred_${suffix}`, credentialVersion: 1, getDsn: async () => dsn, limits };
}

/** The same DSN with another user, port or password. */
function dsnWith(change: (url: URL) => void): string {
  const url = new URL(DSN);
  change(url);
  return url.toString();
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

async function count(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n);
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: DSN });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text UNIQUE)`);
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  executor = new Executor({ poolOptions: { max: 4 } });
});

afterAll(async () => {
  await executor?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.query(`DROP ROLE IF EXISTS ${role}`);
  await admin?.end();
});

describe('executor', () => {
  it('commits a batch all together, or nothing when a statement fails', async () => {
    const ok = await executor.run({
      target: target(),
      mode: 'write',
      batch: true,
      statements: [
        { sql: `INSERT INTO ${table} VALUES ($1, $2)`, params: ['1', 'a'] },
        { sql: `INSERT INTO ${table} VALUES ($1, $2) RETURNING id`, params: ['2', 'b'] },
      ],
    });
    expect(ok.results.map((r) => [r.command, r.rowCount])).toEqual([
      ['INSERT', 1],
      ['INSERT', 1],
    ]);
    expect(ok.results[1]?.rows).toEqual([['2']]);
    const err = await failure(
      executor.run({
        target: target(),
        mode: 'write',
        batch: true,
        statements: [
          { sql: `INSERT INTO ${table} VALUES ($1, $2)`, params: ['3', 'c'] },
          { sql: `INSERT INTO ${table} VALUES ($1, $2)`, params: ['4', 'a'] },
        ],
      }),
    );
    expect(err).toMatchObject({ code: '23505' });
    expect(await count()).toBe(2);
    await admin.query(`DELETE FROM ${table}`);
  });

  it('runs a simple-protocol multi-statement string with one result per statement', async () => {
    const { results } = await executor.run({
      target: target(),
      mode: 'write',
      batch: false,
      statements: [],
      simpleMulti: `INSERT INTO ${table} VALUES (10, 'x'); SELECT v FROM ${table} WHERE id = 10; DELETE FROM ${table} WHERE id = 10`,
    });
    expect(results.map((r) => r.command)).toEqual(['INSERT', 'SELECT', 'DELETE']);
    expect(results[1]?.rows).toEqual([['x']]);
    expect(results[1]?.fields[0]?.name).toBe('v');
    // One implicit transaction: a failing statement undoes the earlier ones.
    const err = await failure(
      executor.run({ target: target(), mode: 'write', batch: false, statements: [], simpleMulti: `INSERT INTO ${table} VALUES (11, 'y'); SELECT 1/0` }),
    );
    expect(err).toMatchObject({ code: '22012' });
    expect(await count()).toBe(0);
  });

  it('refuses a second statement hidden in a parameterized statement (extended protocol)', async () => {
    const err = await failure(executor.run({ target: target(), mode: 'write', batch: false, statements: [{ sql: `SELECT 1; DELETE FROM ${table}` }] }));
    expect(err).toMatchObject({ code: '42601' });
  });

  it('runs read mode on a read-only connection (25006), even after set_config tries to undo it', async () => {
    const pools = new PoolManager({ max: 1 });
    const ex = new Executor({ pools });
    const t = target({}, `int_exec_ro_${suffix}`);
    try {
      const write = { target: t, mode: 'read' as const, batch: false, statements: [{ sql: `INSERT INTO ${table} VALUES (20, 'ro')` }] };
      expect(await failure(ex.run(write))).toMatchObject({ code: '25006' });
      await ex.run({ target: t, mode: 'read', batch: false, statements: [{ sql: "SELECT set_config('default_transaction_read_only', 'off', false)" }] });
      expect(await failure(ex.run(write))).toMatchObject({ code: '25006' });
      expect(await count()).toBe(0);
    } finally {
      await ex.close();
    }
  });

  it('applies statement_timeout from the limits (57014)', async () => {
    const t = target({ statement_timeout_ms: 100 }, `int_exec_timeout_${suffix}`);
    const err = await failure(executor.run({ target: t, mode: 'read', batch: false, statements: [{ sql: 'SELECT pg_sleep(2)' }] }));
    expect(toWireError(err)).toMatchObject({ code: '57014' });
    await executor.pools.closeIntegration(t.integrationId);
  });

  it('refuses results over max_rows (QS_MAX_ROWS) and leaves such writes uncommitted', async () => {
    const t = target({ max_rows: 5 }, `int_exec_rows_${suffix}`);
    const ok = await executor.run({ target: t, mode: 'read', batch: false, statements: [{ sql: 'SELECT generate_series(1, 5)' }] });
    expect(ok.results[0]?.rows).toHaveLength(5);
    const err = await failure(executor.run({ target: t, mode: 'read', batch: false, statements: [{ sql: 'SELECT generate_series(1, 100000)' }] }));
    expect(isQsError(err) && err.code).toBe('QS_MAX_ROWS');
    expect(toWireError(err)).toMatchObject({ code: '54000', qs_code: 'QS_MAX_ROWS' });
    const write = await failure(
      executor.run({ target: t, mode: 'write', batch: false, statements: [{ sql: `INSERT INTO ${table} SELECT g, g::text FROM generate_series(100, 109) g RETURNING id` }] }),
    );
    expect(isQsError(write) && write.code).toBe('QS_MAX_ROWS');
    expect(await count()).toBe(0);
    // The connection is still good afterwards.
    expect((await executor.run({ target: t, mode: 'read', batch: false, statements: [{ sql: 'SELECT 1' }] })).results[0]?.rows).toEqual([['1']]);
  });

  it('keeps every DatabaseError field of a unique violation', async () => {
    await admin.query(`INSERT INTO ${table} VALUES (30, 'dup')`);
    const err = await failure(executor.run({ target: target(), mode: 'write', batch: false, statements: [{ sql: `INSERT INTO ${table} VALUES ($1, $2)`, params: ['31', 'dup'] }] }));
    const wire = toWireError(err);
    expect(wire).toMatchObject({
      code: '23505',
      severity: 'ERROR',
      schema,
      table: 'items',
      constraint: 'items_v_key',
      detail: 'Key (v)=(dup) already exists.',
      routine: expect.any(String),
      file: expect.any(String),
      line: expect.any(String),
    });
    expect(wire.qs_code).toBeUndefined();
    const syntax = toWireError(await failure(executor.run({ target: target(), mode: 'read', batch: false, statements: [{ sql: 'SELECT 1 FROM WHERE' }] })));
    expect(syntax).toMatchObject({ code: '42601', position: expect.any(String) });
    await admin.query(`DELETE FROM ${table}`);
  });

  it('maps a refused login to QS_DB_AUTH_FAILED naming the credential, without the password', async () => {
    const dsn = dsnWith((u) => {
      u.username = `qs_no_such_role_${suffix}`;
      u.password = 'hunter2-secret';
    });
    const t = target({}, `int_exec_auth_${suffix}`, dsn);
    const err = await failure(executor.run({ target: t, mode: 'read', batch: false, statements: [{ sql: 'SELECT 1' }] }));
    expect(isQsError(err) && err.code).toBe('QS_DB_AUTH_FAILED');
    const wire = toWireError(err);
    expect(wire).toMatchObject({ code: '28P01', qs_code: 'QS_DB_AUTH_FAILED' });
    expect(wire.message).toContain(`POST /api/v2/vault/rotate/${t.credentialId}`);
    expect(JSON.stringify(wire)).not.toContain('hunter2');
    await executor.pools.closeIntegration(t.integrationId);
  });

  it('maps an unreachable server to QS_DB_UNAVAILABLE and a TLS failure to QS_DB_TLS', async () => {
    const down = target({}, `int_exec_down_${suffix}`, dsnWith((u) => {
      u.hostname = '127.0.0.1';
      u.port = '1';
      u.password = 'hunter2-secret';
    }));
    const err = await failure(executor.run({ target: down, mode: 'read', batch: false, statements: [{ sql: 'SELECT 1' }] }));
    const wire = toWireError(err);
    expect(wire).toMatchObject({ code: '08001', qs_code: 'QS_DB_UNAVAILABLE' });
    expect(JSON.stringify(wire)).not.toContain('hunter2');

    // The local server runs without TLS ("does not support SSL") or with a self-signed
    // certificate (verification fails): both are QS_DB_TLS.
    const tls = target({}, `int_exec_tls_${suffix}`, dsnWith((u) => u.searchParams.set('sslmode', 'require')));
    const tlsWire = toWireError(await failure(executor.run({ target: tls, mode: 'read', batch: false, statements: [{ sql: 'SELECT 1' }] })));
    expect(tlsWire).toMatchObject({ code: '08006', qs_code: 'QS_DB_TLS' });
    expect(tlsWire.message).toMatch(/sslmode=require/);
    expect(tlsWire.message).toMatch(/always verified/);
    await executor.pools.closeIntegration(down.integrationId);
    await executor.pools.closeIntegration(tls.integrationId);
  });

  it('scrubs DSNs from messages and turns a QsError into {code: sqlstate, qs_code}', () => {
    const wire = toWireError(new Error('connect to postgres://app:pa55word@db.internal:5432/x failed: Connection terminated unexpectedly'));
    expect(wire.qs_code).toBe('QS_DB_UNAVAILABLE');
    expect(JSON.stringify(wire)).not.toContain('pa55word');
    expect(toWireError(new QsError('QS_SESSION_LIMIT', 'too many'))).toEqual({ code: '53300', message: 'too many', qs_code: 'QS_SESSION_LIMIT' });
    expect(toWireError(new TypeError('x is undefined'))).toMatchObject({ code: 'XX000', qs_code: 'QS_INTERNAL' });
  });

  it('drains the old pools on a credential version change without failing in-flight queries', async () => {
    const integrationId = `int_exec_rotate_${suffix}`;
    const v1 = { ...target({}, integrationId), credentialVersion: 1 };
    const v2 = { ...target({}, integrationId), credentialVersion: 2 };
    const query = (t: ExecutionTarget) => executor.run({ target: t, mode: 'read', batch: false, statements: [{ sql: 'SELECT pg_sleep(0.1), 1' }] });
    const oldPools = await executor.pools.getPools(v1);
    const inFlight = Array.from({ length: 6 }, () => query(v1));
    await new Promise((r) => setTimeout(r, 20));
    const session = await executor.run({ target: v1, mode: 'write', batch: false, statements: [{ sql: 'BEGIN' }], sessionId: 'new' });
    const afterRotation = Array.from({ length: 6 }, () => query(v2));
    // A request that loaded the integration before the rotation still runs (on the new pools).
    const stale = query(v1);
    const results = await Promise.all([...inFlight, ...afterRotation, stale]);
    expect(results.every((r) => r.results[0]?.rows[0]?.[1] === '1')).toBe(true);
    const newPools = await executor.pools.getPools(v2);
    expect(newPools).not.toBe(oldPools);
    expect(newPools.credentialVersion).toBe(2);
    // The session still holds a connection of the old pools; they end once it is closed.
    expect(executor.pools.stats().draining).toBe(1);
    await executor.run({ target: v1, mode: 'write', batch: false, statements: [{ sql: 'COMMIT' }], sessionId: session.sessionId, closeSession: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(executor.pools.stats().draining).toBe(0);
    expect((oldPools.read as unknown as { ended: boolean }).ended).toBe(true);
    expect((oldPools.write as unknown as { ended: boolean }).ended).toBe(true);
    await executor.pools.closeIntegration(integrationId);
  });

  it('checks a login and warns about powerful roles', async () => {
    const superuser = await executor.pools.testLogin(DSN);
    expect(superuser.warnings.some((w) => /superuser/.test(w))).toBe(true);
    const plain = await executor.pools.testLogin(dsnWith((u) => (u.username = role)));
    expect(plain).toEqual({ role, warnings: [] });
    const refused = await failure(executor.pools.testLogin(dsnWith((u) => (u.username = `qs_no_such_role_${suffix}`)), { credentialId: 'cred_x' }));
    expect(isQsError(refused) && refused.code).toBe('QS_DB_AUTH_FAILED');
  });
});
