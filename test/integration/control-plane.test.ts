import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';
import { databaseUrl } from '../helpers/pg.js';

let server: TestServer;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  a = await provisionTenant(server, { allow: ['query', 'execute'], name: 'tenant-a' });
  b = await provisionTenant(server, { allow: ['query'], name: 'tenant-b' });
});
afterAll(async () => server?.dispose());

async function auditCount(t: Tenant): Promise<number> {
  const r = await api(server.url, 'GET', '/api/v2/audit?limit=1000', { apiKey: t.apiKey });
  return (r.body.events as unknown[]).length;
}

describe('tenant isolation: 404, never 403, for another tenant’s ids', () => {
  it('cannot read, update or delete another tenant’s integration', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { allowed_operations: ['query', 'execute', 'ddl'] }],
      ['DELETE', undefined],
    ] as const) {
      const r = await api(server.url, method, `/api/v2/integrations/${a.integrationId}`, { apiKey: b.apiKey, body });
      expect(r.status, method).toBe(404);
      expect(r.body.error?.code).toBe('QS_NOT_FOUND');
    }
    const still = await api(server.url, 'GET', `/api/v2/integrations/${a.integrationId}`, { apiKey: a.apiKey });
    expect(still.status).toBe(200);
    expect(still.body.allowed_operations).toEqual(['query', 'execute']);
  });

  it('cannot rotate, delete, list or use another tenant’s credential', async () => {
    const rotate = await api(server.url, 'POST', `/api/v2/vault/rotate/${a.credentialId}`, { apiKey: b.apiKey, body: { values: { dsn: databaseUrl() } } });
    expect(rotate.status).toBe(404);
    const del = await api(server.url, 'DELETE', `/api/v2/vault/credentials/${a.credentialId}`, { apiKey: b.apiKey });
    expect(del.status).toBe(404);
    const list = await api(server.url, 'GET', '/api/v2/vault/credentials', { apiKey: b.apiKey });
    expect((list.body.credentials as Array<{ credential_id: string }>).map((c) => c.credential_id)).toEqual([b.credentialId]);
    const use = await api(server.url, 'POST', '/api/v2/integrations', {
      apiKey: b.apiKey,
      body: { system_type: 'postgres', credential_id: a.credentialId, allowed_operations: ['query'] },
    });
    expect(use.status).toBe(404);
  });

  it('cannot read another tenant’s audit events', async () => {
    const r = await api(server.url, 'GET', `/api/v2/audit?integration_id=${a.integrationId}`, { apiKey: b.apiKey });
    expect(r.status).toBe(200);
    expect(r.body.events).toEqual([]);
  });
});

describe('bad input: a stable code and nothing written', () => {
  const cases: Array<[string, () => Promise<{ status: number; body: { error?: { code: string } } }>, number, string]> = [
    ['malformed JSON', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, rawBody: '{"credential_type": "database_dsn", ' }), 400, 'QS_MALFORMED_JSON'],
    ...(
      [
        ['a __proto__ key', '"__proto__": {"polluted": true}'],
        ['a __proto__ key spelled with \\u escapes', '"\\u005f_pr\\u006fto__": {"polluted": true}'],
        ['a constructor key', '"values2": {"constructor": {"prototype": {"polluted": true}}}'],
      ] as const
    ).map(
      ([what, member]): (typeof cases)[number] => [
        what,
        () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, rawBody: `{"credential_type": "database_dsn", "values": {"dsn": ${JSON.stringify(databaseUrl())}}, ${member}}` }),
        400,
        'QS_MALFORMED_JSON',
      ],
    ),
    ['wrong types', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, body: { credential_type: 'database_dsn', values: { dsn: 42 } } }), 400, 'QS_INVALID_REQUEST'],
    ['unknown field', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, body: { credential_type: 'database_dsn', values: { dsn: databaseUrl() }, extra: 1 } }), 400, 'QS_INVALID_REQUEST'],
    ['non-postgres DSN', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, body: { credential_type: 'database_dsn', values: { dsn: 'mysql://root:pw@db/x' } } }), 400, 'QS_INVALID_DSN'],
    ['not a URL', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, body: { credential_type: 'database_dsn', values: { dsn: 'host=db password=secret' } } }), 400, 'QS_INVALID_DSN'],
    ['10 MB body', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, rawBody: JSON.stringify({ credential_type: 'database_dsn', values: { dsn: 'postgres://x/' + 'a'.repeat(10 * 1024 * 1024) } }) }), 413, 'QS_BODY_TOO_LARGE'],
    ['missing API key', () => api(server.url, 'POST', '/api/v2/vault/seal', { body: { credential_type: 'database_dsn', values: { dsn: databaseUrl() } } }), 401, 'QS_UNAUTHENTICATED'],
    ['wrong API key', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: 'qs_live_' + 'x'.repeat(43), body: { credential_type: 'database_dsn', values: { dsn: databaseUrl() } } }), 401, 'QS_UNAUTHENTICATED'],
    ['unknown operation name', () => api(server.url, 'POST', '/api/v2/integrations', { apiKey: a.apiKey, body: { system_type: 'postgres', credential_id: a.credentialId, allowed_operations: ['query', 'drop_everything'] } }), 400, 'QS_UNKNOWN_OPERATION'],
    ['wrong system type', () => api(server.url, 'POST', '/api/v2/integrations', { apiKey: a.apiKey, body: { system_type: 'mysql', credential_id: a.credentialId } }), 400, 'QS_INVALID_REQUEST'],
    ['bad limits', () => api(server.url, 'POST', '/api/v2/integrations', { apiKey: a.apiKey, body: { system_type: 'postgres', credential_id: a.credentialId, limits: { max_rows: -1 } } }), 400, 'QS_INVALID_REQUEST'],
    [
      'ML-KEM public key failing the FIPS 203 modulus check',
      () => api(server.url, 'POST', '/api/v2/keys/recipient', { apiKey: a.apiKey, body: { public_key: Buffer.alloc(1184, 0xff).toString('base64') } }),
      400,
      'QS_INVALID_REQUEST',
    ],
    ['ML-KEM public key of the wrong length', () => api(server.url, 'POST', '/api/v2/keys/recipient', { apiKey: a.apiKey, body: { public_key: Buffer.alloc(1183).toString('base64') } }), 400, 'QS_INVALID_REQUEST'],
    ['text/plain body', () => api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, rawBody: 'dsn', headers: { 'content-type': 'text/plain' } }), 415, 'QS_UNSUPPORTED_MEDIA_TYPE'],
    ['admin route without token', () => api(server.url, 'POST', '/api/v2/admin/tenants', { body: { name: 'x' } }), 401, 'QS_ADMIN_UNAUTHORIZED'],
    ['admin route with a tenant key', () => api(server.url, 'POST', '/api/v2/admin/tenants', { adminToken: a.apiKey, body: { name: 'x' } }), 401, 'QS_ADMIN_UNAUTHORIZED'],
  ];
  for (const [name, call, status, code] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const before = await api(server.url, 'GET', '/api/v2/vault/credentials', { apiKey: a.apiKey });
      const integrationsBefore = await api(server.url, 'GET', '/api/v2/integrations', { apiKey: a.apiKey });
      const r = await call();
      expect(r.status).toBe(status);
      expect(r.body.error?.code).toBe(code);
      expect(JSON.stringify(r.body)).not.toContain('secret');
      expect((await api(server.url, 'GET', '/api/v2/vault/credentials', { apiKey: a.apiKey })).body).toEqual(before.body);
      expect((await api(server.url, 'GET', '/api/v2/integrations', { apiKey: a.apiKey })).body).toEqual(integrationsBefore.body);
    });
  }

  it('never echoes the DSN', async () => {
    const r = await api(server.url, 'POST', '/api/v2/vault/seal', { apiKey: a.apiKey, body: { credential_type: 'database_dsn', values: { dsn: 'postgres://app:hunter2@db.internal:5432/app' } } });
    expect(r.status).toBe(201);
    expect(JSON.stringify(r.body)).not.toContain('hunter2');
    expect(r.body.credential_id).toMatch(/^cred_/);
    const list = await api(server.url, 'GET', '/api/v2/vault/credentials', { apiKey: a.apiKey });
    expect(JSON.stringify(list.body)).not.toContain('hunter2');
  });
});

describe('API keys', () => {
  it('a revoked key stops working at once', async () => {
    const issued = await api(server.url, 'POST', `/api/v2/admin/tenants/${b.tenantId}/api-keys`, { adminToken: server.ctx.adminToken, body: {} });
    expect(issued.status).toBe(201);
    const key = issued.body.api_key as string;
    expect(key).toMatch(/^qs_live_[0-9A-Za-z]{43}$/);
    expect((await api(server.url, 'GET', '/api/v2/integrations', { apiKey: key })).status).toBe(200);
    const revoke = await api(server.url, 'DELETE', `/api/v2/admin/tenants/${b.tenantId}/api-keys/${issued.body.api_key_id as string}`, { adminToken: server.ctx.adminToken });
    expect(revoke.status).toBe(204);
    const after = await api(server.url, 'GET', '/api/v2/integrations', { apiKey: key });
    expect(after.status).toBe(401);
    expect(after.body.error?.code).toBe('QS_UNAUTHENTICATED');
  });

  it('the store keeps only hashes', async () => {
    const keys = await server.ctx.store.listApiKeys(a.tenantId);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k.keyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(k.keyHash).not.toContain(a.apiKey.slice(8));
    }
  });
});

describe('audit', () => {
  it('writes one event per authenticated call, denied ones included', async () => {
    const before = await auditCount(a);
    await api(server.url, 'GET', '/api/v2/integrations', { apiKey: a.apiKey });
    await api(server.url, 'GET', `/api/v2/integrations/int_00000000000000000000000000`, { apiKey: a.apiKey });
    // The listing call itself is audited too, after it answers.
    const events = (await api(server.url, 'GET', '/api/v2/audit?limit=1000', { apiKey: a.apiKey })).body.events as Array<{ route: string; outcome: string }>;
    expect(events.length).toBe(before + 1 /* previous audit listing */ + 2);
    expect(events.at(-1)).toMatchObject({ route: 'GET /api/v2/integrations/:integration_id', outcome: 'denied' });
  });
});

describe('health', () => {
  it('/healthz, /readyz and /metrics answer', async () => {
    expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);
    const ready = await api(server.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ store: 'ok', kms: 'ok' });
    const metrics = await fetch(`${server.url}/metrics`);
    expect(await metrics.text()).toContain('quantaseal_http_requests_total');
  });

  it('publishes the signing key', async () => {
    const r = await api(server.url, 'GET', '/api/v2/keys/signing');
    const keys = r.body.keys as Array<{ key_id: string; public_key: string }>;
    expect(keys).toHaveLength(1);
    expect(keys[0]?.key_id).toBe(server.ctx.signingKey.keyId);
    expect(Buffer.from(keys[0]!.public_key, 'base64')).toHaveLength(1952);
  });
});
