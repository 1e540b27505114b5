import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { QuantaSeal } from '../../src/client/sdk.js';
import { EnvelopeVerificationError, isQsError } from '../../src/protocol/errors.js';
import { startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

describe('QuantaSeal REST SDK', () => {
  let proxy: FakeProxy;
  const seen: Array<[string, string, unknown]> = [];
  beforeAll(async () => {
    proxy = await startFakeProxy({
      route: (method, path, body) => {
        seen.push([method, path, body]);
        if (path === '/api/v2/vault/credentials/cred_missing') return { status: 404, json: { success: false, error: { code: 'QS_NOT_FOUND', message: 'no such credential' } } };
        return { status: 200, json: { ok: true, method, path } };
      },
    });
  });
  afterAll(() => proxy.close());

  it('maps each call to its route and body', async () => {
    const qs = new QuantaSeal({ url: proxy.url, apiKey: proxy.apiKey });
    await qs.vault.seal({ dsn: 'postgres://u:p@db/app', name: 'main' });
    await qs.vault.rotate('cred_1', { dsn: 'postgres://u:q@db/app', verify: false });
    await qs.vault.list();
    await qs.integrations.create({ system_type: 'postgres', credential_id: 'cred_1', allowed_operations: ['query'] });
    await qs.integrations.update('int_1', { allowed_operations: ['query', 'execute'] });
    await qs.keys.signing();
    await qs.keys.registerRecipient({ keyId: 'rk_1', publicKey: 'AAAA' });
    await qs.audit.list({ integration_id: 'int_1', limit: 5 });
    expect(seen).toEqual([
      ['POST', '/api/v2/vault/seal', { credential_type: 'database_dsn', values: { dsn: 'postgres://u:p@db/app' }, name: 'main' }],
      ['POST', '/api/v2/vault/rotate/cred_1', { values: { dsn: 'postgres://u:q@db/app' }, verify: false }],
      ['GET', '/api/v2/vault/credentials', undefined],
      ['POST', '/api/v2/integrations', { system_type: 'postgres', credential_id: 'cred_1', allowed_operations: ['query'] }],
      ['PATCH', '/api/v2/integrations/int_1', { allowed_operations: ['query', 'execute'] }],
      ['GET', '/api/v2/keys/signing', undefined],
      ['POST', '/api/v2/keys/recipient', { keyId: 'rk_1', publicKey: 'AAAA' }],
      ['GET', '/api/v2/audit?integration_id=int_1&limit=5', undefined],
    ]);
    expect(inspect(qs, { depth: 5 })).not.toContain(proxy.apiKey);
  });

  it('turns control-plane errors into QsErrors with the server code', async () => {
    const qs = new QuantaSeal({ url: proxy.url, apiKey: proxy.apiKey });
    const err = await qs.vault.delete('cred_missing').catch((e: unknown) => e);
    expect(isQsError(err) && err.code).toBe('QS_NOT_FOUND');
    const unauth = await new QuantaSeal({ url: proxy.url, apiKey: 'qs_test_nope' }).vault.list().catch((e: unknown) => e);
    expect(isQsError(unauth) && unauth.code).toBe('QS_UNAUTHENTICATED');
  });

  it('proxy.outbound returns the raw envelope and encryption.decrypt verifies and opens it', async () => {
    const qs = new QuantaSeal({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath });
    const request = { integration_id: proxy.integrationId, operation: 'query' as const, payload: { sql: 'SELECT 1', params: [] }, request_id: 'req_sdk_1', recipient_key_id: proxy.clientKeys.recipient.keyId };
    const envelope = await qs.proxy.outbound(request);
    expect(envelope.context.request_id).toBe('req_sdk_1');
    const sha = createHash('sha256').update(JSON.stringify(request)).digest('hex');
    expect(qs.encryption.requestSha256(JSON.stringify(request))).toBe(sha);
    const payload = (await qs.encryption.decrypt(envelope, { requestId: 'req_sdk_1', requestSha256: sha })) as { results: unknown[] };
    expect(payload.results).toHaveLength(1);
    await expect(qs.encryption.decrypt(envelope, { requestId: 'req_other' })).rejects.toBeInstanceOf(EnvelopeVerificationError);
  });
});
