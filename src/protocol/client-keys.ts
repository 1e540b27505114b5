import { ML_DSA_65, ML_KEM_768 } from '../crypto/backend.js';
import { fromBase64Strict, toBase64 } from './bytes.js';
import { QsError } from './errors.js';

/**
 * The client keys file (DESIGN §3) that `quantaseal init` writes with mode 0600: everything the
 * driver needs but the API key.
 */
export interface ClientKeys {
  version: 1;
  url: string;
  tenantId: string;
  integrationId: string;
  recipient: { keyId: string; publicKey: Uint8Array; secretKey: Uint8Array };
  signingKeys: Array<{ keyId: string; publicKey: Uint8Array }>;
}

/** The JSON form on disk (snake_case, base64 binaries). */
export interface ClientKeysJson {
  version: 1;
  url: string;
  tenant_id: string;
  integration_id: string;
  recipient: { keyId: string; publicKey: string; secretKey: string };
  signing_keys: Array<{ keyId: string; publicKey: string }>;
}

export function clientKeysToJson(keys: ClientKeys): ClientKeysJson {
  return {
    version: 1,
    url: keys.url,
    tenant_id: keys.tenantId,
    integration_id: keys.integrationId,
    recipient: { keyId: keys.recipient.keyId, publicKey: toBase64(keys.recipient.publicKey), secretKey: toBase64(keys.recipient.secretKey) },
    signing_keys: keys.signingKeys.map((k) => ({ keyId: k.keyId, publicKey: toBase64(k.publicKey) })),
  };
}

/** Validates and decodes a client keys object; throws QS_CONFIG naming the bad field (never its value). */
export function parseClientKeys(raw: unknown): ClientKeys {
  const fail = (field: string): never => {
    throw new QsError('QS_CONFIG', `client keys: "${field}" is missing or malformed`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('(root)');
  const o = raw as Record<string, unknown>;
  if (o.version !== 1) fail('version');
  const str = (v: unknown, name: string) => (typeof v === 'string' && v.length > 0 ? v : fail(name));
  const rec = (o.recipient ?? fail('recipient')) as Record<string, unknown>;
  const publicKey = fromBase64Strict(rec.publicKey, { length: ML_KEM_768.publicKeyBytes }) ?? fail('recipient.publicKey');
  const secretKey = fromBase64Strict(rec.secretKey, { length: ML_KEM_768.seedBytes }) ?? fail('recipient.secretKey');
  if (!Array.isArray(o.signing_keys) || o.signing_keys.length === 0) fail('signing_keys');
  const signingKeys = (o.signing_keys as unknown[]).map((k, i) => {
    const kk = (k ?? {}) as Record<string, unknown>;
    return {
      keyId: str(kk.keyId, `signing_keys[${i}].keyId`),
      publicKey: new Uint8Array(fromBase64Strict(kk.publicKey, { length: ML_DSA_65.publicKeyBytes }) ?? fail(`signing_keys[${i}].publicKey`)),
    };
  });
  return {
    version: 1,
    url: str(o.url, 'url'),
    tenantId: str(o.tenant_id, 'tenant_id'),
    integrationId: str(o.integration_id, 'integration_id'),
    recipient: { keyId: str(rec.keyId, 'recipient.keyId'), publicKey: new Uint8Array(publicKey), secretKey: new Uint8Array(secretKey) },
    signingKeys,
  };
}
