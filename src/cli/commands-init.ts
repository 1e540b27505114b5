import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fromBase64Strict, toBase64 } from '../protocol/bytes.js';
import { clientKeysToJson } from '../protocol/client-keys.js';
import { QsError } from '../protocol/errors.js';
import { generateRecipientKeyPair } from '../protocol/keys.js';
import { callJson } from './http-json.js';

export interface InitOptions {
  url: string;
  adminToken: string;
  dsn: string;
  allow: string[];
  tenantName: string;
  keysOut: string;
  tokenization?: unknown;
  verify?: boolean;
}

export interface InitResult {
  url: string;
  tenant_id: string;
  api_key: string;
  integration_id: string;
  credential_id: string;
  client_keys_path: string;
  warnings: string[];
}

/** Reads the operator token from a flag or `<data-dir>/admin.token`. */
export function readAdminToken(flag: string | undefined, dataDir: string): string {
  if (flag) return flag;
  try {
    return readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
  } catch {
    throw new QsError('QS_CONFIG', `no --admin-token given and ${path.join(dataDir, 'admin.token')} is not readable (start the server with that --data-dir first)`);
  }
}

/** Writes JSON holding secrets (client keys, dev credentials) with mode 0600. */
export function writeSecretJsonFile(file: string, content: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * `quantaseal init`: a tenant, an API key, a client recipient key (registered), the DSN sealed
 * and an integration — everything a driver needs — against any reachable server.
 */
export async function runInit(o: InitOptions): Promise<InitResult> {
  const tenant = await callJson<{ tenant_id: string; api_key: string }>({ url: o.url, adminToken: o.adminToken }, 'POST', '/api/v2/admin/tenants', { name: o.tenantName });
  const asTenant = { url: o.url, apiKey: tenant.api_key };
  const recipient = await generateRecipientKeyPair();
  await callJson(asTenant, 'POST', '/api/v2/keys/recipient', { public_key: toBase64(recipient.publicKey) });
  const signing = await callJson<{ keys: Array<{ key_id: string; public_key: string; active: boolean }> }>(asTenant, 'GET', '/api/v2/keys/signing');
  const sealed = await callJson<{ credential_id: string; warnings: string[] }>(asTenant, 'POST', '/api/v2/vault/seal', {
    credential_type: 'database_dsn',
    values: { dsn: o.dsn },
    name: 'default',
    // A login check by default: a typo fails here, not at the first query, and the answer
    // warns when the role is more privileged than an app needs.
    verify: o.verify ?? true,
  });
  const integration = await callJson<{ integration_id: string }>(asTenant, 'POST', '/api/v2/integrations', {
    system_type: 'postgres',
    credential_id: sealed.credential_id,
    name: 'default',
    allowed_operations: o.allow,
    ...(o.tokenization === undefined ? {} : { tokenization: o.tokenization }),
  });
  writeSecretJsonFile(
    o.keysOut,
    clientKeysToJson({
      version: 1,
      url: o.url,
      tenantId: tenant.tenant_id,
      integrationId: integration.integration_id,
      recipient,
      signingKeys: signing.keys.map((k) => ({
        keyId: k.key_id,
        publicKey: new Uint8Array(fromBase64Strict(k.public_key) ?? Buffer.alloc(0)),
      })),
    }),
  );
  return {
    url: o.url,
    tenant_id: tenant.tenant_id,
    api_key: tenant.api_key,
    integration_id: integration.integration_id,
    credential_id: sealed.credential_id,
    client_keys_path: path.resolve(o.keysOut),
    warnings: sealed.warnings,
  };
}
