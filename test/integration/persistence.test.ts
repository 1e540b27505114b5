import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/server/audit/audit-chain.js';
import { newId } from '../../src/protocol/ids.js';
import { api, outbound, provisionTenant, startTestServer } from '../helpers/proxy-server.js';
import { databaseUrl, dropSchema, tempSchemaName } from '../helpers/pg.js';

const run = promisify(execFile);
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'qs-persist-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('restart', () => {
  it('keeps tenants, keys, credentials and integrations; sealed DSNs unseal with the same KMS key', async () => {
    const dataDir = tempDir();
    const first = await startTestServer({ dataDir });
    const t = await provisionTenant(first, { allow: ['query'] });
    const keyId = first.ctx.signingKey.keyId;
    await first.close();

    const second = await startTestServer({ dataDir });
    try {
      expect(second.ctx.signingKey.keyId).toBe(keyId);
      const r = await outbound({ ...t, url: second.url }, { operation: 'query', payload: { sql: 'SELECT 41 + 1 AS answer', params: [] } });
      expect(r.payload).toMatchObject({ results: [{ command: 'SELECT', rows: [['42']] }] });
    } finally {
      await second.close();
    }
  });

  it('fails clearly with a different KMS master key', async () => {
    const dataDir = tempDir();
    const first = await startTestServer({ dataDir });
    await first.close();
    writeFileSync(path.join(dataDir, 'master.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
    await expect(startTestServer({ dataDir })).rejects.toMatchObject({ code: 'QS_KMS_FAILURE' });
  });
});

describe('audit verify', () => {
  it('detects an edited, a deleted and a reordered event', async () => {
    const dataDir = tempDir();
    const server = await startTestServer({ dataDir });
    const t = await provisionTenant(server, { allow: ['query'] });
    for (let i = 0; i < 4; i++) await outbound(t, { operation: 'query', payload: { sql: 'SELECT $1::int AS n', params: [String(i)] } });
    await server.close();

    const cli = ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'audit', 'verify', '--data-dir', dataDir];
    const ok = await run(process.execPath, cli);
    expect(ok.stdout).toContain('audit chains intact');

    const dbFile = path.join(dataDir, 'quantaseal.db');
    const tamper = (sql: string) => {
      const copy = path.join(tempDir(), 'quantaseal.db');
      const db = new Database(dbFile, { readonly: true });
      db.prepare('VACUUM INTO ?').run(copy);
      db.close();
      const w = new Database(copy);
      w.exec(sql);
      w.close();
      return path.dirname(copy);
    };
    for (const sql of [
      `UPDATE audit_events SET outcome = 'denied' WHERE seq = 3`,
      `DELETE FROM audit_events WHERE seq = 2`,
      `UPDATE audit_events SET seq = -2 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = -2`,
    ]) {
      const dir = tamper(sql);
      const broken = await run(process.execPath, [...cli.slice(0, -1), dir]).then(
        () => null,
        (e: { code: number; stdout: string }) => e,
      );
      expect(broken, sql).not.toBeNull();
      expect(broken?.code).toBe(3);
      expect(broken?.stdout).toContain('FAILED');
    }
  });

  it('verifies one tenant through the API with --url and --api-key', async () => {
    const server = await startTestServer();
    try {
      const t = await provisionTenant(server, { allow: ['query'] });
      await outbound(t, { operation: 'query', payload: { sql: 'SELECT 1', params: [] } });
      const r = await run(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'audit', 'verify', '--url', server.url, '--api-key', t.apiKey, '--json']);
      const report = JSON.parse(r.stdout) as { ok: boolean; tenants: Array<{ tenant_id: string; checked: number; ok: boolean }> };
      expect(report.ok).toBe(true);
      expect(report.tenants).toEqual([{ tenant_id: t.tenantId, checked: 4, ok: true }]);
    } finally {
      await server.dispose();
    }
  });

  it('verifyChain on a pristine chain checks every event', async () => {
    const server = await startTestServer();
    try {
      const t = await provisionTenant(server, { allow: ['query'] });
      await outbound(t, { operation: 'query', payload: { sql: 'SELECT 1', params: [] } });
      const result = await verifyChain(server.ctx.store.readAuditChain(t.tenantId));
      expect(result.break).toBeNull();
      // recipient key, seal, integration, the query: one event per authenticated call.
      expect(result.checked).toBe(4);
    } finally {
      await server.dispose();
    }
  });
});

describe('several nodes on one PostgreSQL store', () => {
  it('a rotation, a narrowed allowed_operations and a revoked key on node A are in force on node B within 1 s', async () => {
    const schema = tempSchemaName('qs_nodes');
    const dataDir = tempDir();
    const nodeA = await startTestServer({ dataDir, store: databaseUrl(), storeSchema: schema });
    const nodeB = await startTestServer({ dataDir, store: databaseUrl(), storeSchema: schema });
    try {
      expect(nodeB.ctx.signingKey.keyId).toBe(nodeA.ctx.signingKey.keyId);
      const t = await provisionTenant(nodeA, { allow: ['query', 'execute'] });
      const onB = { ...t, url: nodeB.url };
      expect((await outbound(onB, { operation: 'query', payload: { sql: 'SELECT 1', params: [] } })).payload).toHaveProperty('results');

      // Narrow on A, observe on B.
      await api(nodeA.url, 'PATCH', `/api/v2/integrations/${t.integrationId}`, { apiKey: t.apiKey, body: { allowed_operations: ['execute'] } });
      await waitFor(async () => {
        const r = await outbound(onB, { operation: 'query', payload: { sql: 'SELECT 1', params: [] } });
        return (r.payload as { error?: { qs_code?: string } }).error?.qs_code === 'QS_OPERATION_DENIED';
      });

      // Rotate on A to another database user; B's queries run as that user.
      await api(nodeA.url, 'PATCH', `/api/v2/integrations/${t.integrationId}`, { apiKey: t.apiKey, body: { allowed_operations: ['query', 'execute'] } });
      const role = `${schema}_app`;
      await admin(`CREATE ROLE ${role} LOGIN`);
      try {
        const url = new URL(databaseUrl());
        url.username = role;
        const rot = await api(nodeA.url, 'POST', `/api/v2/vault/rotate/${t.credentialId}`, { apiKey: t.apiKey, body: { values: { dsn: url.toString() } } });
        expect(rot.body.version).toBe(2);
        await waitFor(async () => {
          const r = await outbound(onB, { operation: 'query', payload: { sql: 'SELECT current_user', params: [] } });
          return JSON.stringify(r.payload).includes(role);
        });
      } finally {
        await nodeA.ctx.dataPlane.close();
        await nodeB.ctx.dataPlane.close();
        await admin(`DROP ROLE IF EXISTS ${role}`);
      }

      // Revoke on A; B refuses the key.
      const issued = await api(nodeA.url, 'POST', `/api/v2/admin/tenants/${t.tenantId}/api-keys`, { adminToken: nodeA.ctx.adminToken, body: {} });
      const key = issued.body.api_key as string;
      expect((await api(nodeB.url, 'GET', '/api/v2/integrations', { apiKey: key })).status).toBe(200);
      await api(nodeA.url, 'DELETE', `/api/v2/admin/tenants/${t.tenantId}/api-keys/${issued.body.api_key_id as string}`, { adminToken: nodeA.ctx.adminToken });
      await waitFor(async () => (await api(nodeB.url, 'GET', '/api/v2/integrations', { apiKey: key })).status === 401);
    } finally {
      await nodeA.close();
      await nodeB.close();
      await dropSchema(schema);
    }
  });
});

describe('a retried read that writes, across nodes sharing a PostgreSQL store', () => {
  it('runs once: the same request sent to node B after node A ran it is QS_ALREADY_RUN', async () => {
    const schema = tempSchemaName('qs_claims');
    const dataDir = tempDir();
    const nodeA = await startTestServer({ dataDir, store: databaseUrl(), storeSchema: schema });
    const nodeB = await startTestServer({ dataDir, store: databaseUrl(), storeSchema: schema });
    const seq = `${schema}_seq`;
    await admin(`CREATE SEQUENCE public.${seq}`);
    try {
      const t = await provisionTenant(nodeA, { allow: ['query', 'execute'] });
      const request = { operation: 'query', payload: { sql: `SELECT nextval('public.${seq}') AS n`, params: [] }, request_id: newId('request') };
      expect((await outbound(t, request)).payload).toMatchObject({ results: [{ rows: [['1']] }] });
      const again = await outbound({ ...t, url: nodeB.url }, request);
      expect((again.payload as { error?: { qs_code?: string } }).error?.qs_code).toBe('QS_ALREADY_RUN');
      // A new request (a new id) runs on B as usual.
      expect((await outbound({ ...t, url: nodeB.url }, { ...request, request_id: newId('request') })).payload).toMatchObject({ results: [{ rows: [['2']] }] });
    } finally {
      await nodeA.close();
      await nodeB.close();
      await admin(`DROP SEQUENCE IF EXISTS public.${seq}`);
      await dropSchema(schema);
    }
  });
});

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function waitFor(check: () => Promise<boolean>, withinMs = 1000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
