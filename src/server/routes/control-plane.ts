import type { FastifyInstance } from 'fastify';
import { toBase64 } from '../../protocol/bytes.js';
import { QsError } from '../../protocol/errors.js';
import type { ServerContext } from '../context.js';
import { requireAdminToken, requireApiKey } from '../http/auth.js';
import { schemas } from '../http/schemas.js';
import type { AuditEventRecord } from '../store/store.js';

type Body<T> = { Body: T };

/** The audit event as the API shows it: no PII, no parameter values (there are none stored). */
export const auditView = (e: AuditEventRecord) => ({
  audit_event_id: e.id,
  tenant_id: e.tenantId,
  seq: e.seq,
  ts: e.ts,
  integration_id: e.integrationId,
  operation: e.operation,
  api_key_id: e.apiKeyId,
  request_id: e.requestId,
  route: e.route,
  fingerprint: e.fingerprint,
  outcome: e.outcome,
  sqlstate: e.sqlstate,
  qs_code: e.qsCode,
  row_count: e.rowCount,
  duration_ms: e.durationMs,
  prev_hash: e.prevHash,
  hash: e.hash,
});

/** Operator, key, vault, integration and audit routes (DESIGN §4). */
export function registerControlPlane(app: FastifyInstance, ctx: ServerContext): void {
  const tenantAuth = { preHandler: requireApiKey(ctx) };
  const adminAuth = { preHandler: requireAdminToken(ctx) };
  const tenantOf = (req: { principal?: { tenantId: string } }) => {
    if (req.principal === undefined) throw new QsError('QS_UNAUTHENTICATED', 'missing or invalid API key');
    return req.principal.tenantId;
  };

  // Operators.
  app.post<Body<{ name: string; mode?: 'live' | 'test' }>>('/api/v2/admin/tenants', { ...adminAuth, schema: { body: schemas.createTenant } }, async (req, reply) => {
    const tenant = await ctx.tenants.createTenant(req.body.name);
    const { apiKey, record } = await ctx.tenants.issueApiKey(tenant.id, req.body.mode ?? 'live');
    return reply.code(201).send({ tenant_id: tenant.id, name: tenant.name, created_at: tenant.createdAt, api_key: apiKey, api_key_id: record.id });
  });
  app.get('/api/v2/admin/tenants', adminAuth, async () => ({
    tenants: (await ctx.store.listTenants()).map((t) => ({ tenant_id: t.id, name: t.name, created_at: t.createdAt })),
  }));
  app.post<{ Params: { tenant_id: string }; Body: { mode?: 'live' | 'test' } }>(
    '/api/v2/admin/tenants/:tenant_id/api-keys',
    { ...adminAuth, schema: { params: schemas.tenantIdParam, body: schemas.issueApiKey } },
    async (req, reply) => {
      const { apiKey, record } = await ctx.tenants.issueApiKey(req.params.tenant_id, req.body?.mode ?? 'live');
      return reply.code(201).send({ api_key: apiKey, api_key_id: record.id, prefix: record.prefix, created_at: record.createdAt });
    },
  );
  app.delete<{ Params: { tenant_id: string; api_key_id: string } }>(
    '/api/v2/admin/tenants/:tenant_id/api-keys/:api_key_id',
    { ...adminAuth, schema: { params: schemas.apiKeyParams } },
    async (req, reply) => {
      await ctx.tenants.revokeApiKey(req.params.tenant_id, req.params.api_key_id);
      return reply.code(204).send();
    },
  );

  // Keys.
  app.get('/api/v2/keys/signing', async () => ({
    keys: (await ctx.store.listSigningKeys()).map((k) => ({
      key_id: k.keyId,
      algorithm: 'ML-DSA-65',
      public_key: toBase64(k.publicKey),
      created_at: k.createdAt,
      active: k.active,
    })),
  }));
  app.post<Body<{ public_key: string; key_id?: string }>>('/api/v2/keys/recipient', { ...tenantAuth, schema: { body: schemas.recipientKey } }, async (req, reply) => {
    const record = await ctx.recipients.register(tenantOf(req), req.body);
    return reply.code(201).send({ key_id: record.keyId, algorithm: 'ML-KEM-768', created_at: record.createdAt });
  });

  // Vault.
  app.post<Body<{ credential_type: 'database_dsn'; values: { dsn: string }; name?: string; verify?: boolean }>>(
    '/api/v2/vault/seal',
    { ...tenantAuth, schema: { body: schemas.seal } },
    async (req, reply) => {
      const sealed = await ctx.vault.seal(tenantOf(req), { dsn: req.body.values.dsn, name: req.body.name ?? null, verify: req.body.verify });
      return reply.code(201).send({ credential_id: sealed.credential_id, version: sealed.version, created_at: sealed.created_at, warnings: sealed.warnings });
    },
  );
  app.post<{ Params: { credential_id: string }; Body: { values: { dsn: string }; verify?: boolean } }>(
    '/api/v2/vault/rotate/:credential_id',
    { ...tenantAuth, schema: { params: schemas.credentialIdParam, body: schemas.rotate } },
    async (req) => {
      const rotated = await ctx.vault.rotate(tenantOf(req), req.params.credential_id, { dsn: req.body.values.dsn, verify: req.body.verify });
      return { credential_id: rotated.credential_id, version: rotated.version, warnings: rotated.warnings };
    },
  );
  app.get('/api/v2/vault/credentials', tenantAuth, async (req) => ({ credentials: await ctx.vault.list(tenantOf(req)) }));
  app.delete<{ Params: { credential_id: string } }>(
    '/api/v2/vault/credentials/:credential_id',
    { ...tenantAuth, schema: { params: schemas.credentialIdParam } },
    async (req, reply) => {
      await ctx.vault.delete(tenantOf(req), req.params.credential_id);
      return reply.code(204).send();
    },
  );

  // Integrations.
  app.post<Body<Record<string, unknown>>>('/api/v2/integrations', { ...tenantAuth, schema: { body: schemas.integrationCreate } }, async (req, reply) => {
    return reply.code(201).send(await ctx.integrations.create(tenantOf(req), req.body));
  });
  app.get('/api/v2/integrations', tenantAuth, async (req) => ({ integrations: await ctx.integrations.list(tenantOf(req)) }));
  app.get<{ Params: { integration_id: string } }>(
    '/api/v2/integrations/:integration_id',
    { ...tenantAuth, schema: { params: schemas.integrationIdParam } },
    async (req) => ctx.integrations.get(tenantOf(req), req.params.integration_id),
  );
  app.patch<{ Params: { integration_id: string }; Body: Record<string, unknown> }>(
    '/api/v2/integrations/:integration_id',
    { ...tenantAuth, schema: { params: schemas.integrationIdParam, body: schemas.integrationUpdate } },
    async (req) => ctx.integrations.update(tenantOf(req), req.params.integration_id, req.body),
  );
  app.delete<{ Params: { integration_id: string } }>(
    '/api/v2/integrations/:integration_id',
    { ...tenantAuth, schema: { params: schemas.integrationIdParam } },
    async (req, reply) => {
      const tenantId = tenantOf(req);
      await ctx.integrations.delete(tenantId, req.params.integration_id);
      await ctx.dataPlane.forgetIntegration(req.params.integration_id);
      return reply.code(204).send();
    },
  );

  // Audit.
  app.get<{ Querystring: { integration_id?: string; after?: string; limit?: string } }>(
    '/api/v2/audit',
    { ...tenantAuth, schema: { querystring: schemas.auditQuery } },
    async (req) => {
      const events = await ctx.store.listAuditEvents(tenantOf(req), {
        integrationId: req.query.integration_id,
        afterSeq: req.query.after === undefined ? undefined : Number(req.query.after),
        limit: req.query.limit === undefined ? 100 : Number(req.query.limit),
      });
      return { events: events.map(auditView), next_after: events.at(-1)?.seq ?? Number(req.query.after ?? 0) };
    },
  );
}
