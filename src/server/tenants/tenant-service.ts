import { newId } from '../../protocol/ids.js';
import { deriveResponseHmacKey } from '../../protocol/keys.js';
import { QsError } from '../../protocol/errors.js';
import type { ApiKeyRecord, Store, TenantRecord } from '../store/store.js';
import { apiKeyPrefix, generateApiKey, hashApiKey, looksLikeApiKey } from './api-key.js';

/** Who is calling, once an API key checked out. */
export interface Principal {
  tenantId: string;
  apiKeyId: string;
  /** HKDF of the API key and tenant (DESIGN §3): the key of every answer's HMAC-SHA-512. */
  responseHmacKey: Uint8Array;
}

const AUTH_CACHE_TTL_MS = 30_000;

/**
 * Tenants and their API keys. Keys are shown once and stored as hashes; authentication results
 * are cached briefly and dropped at once on a revocation notice from any node.
 */
export class TenantService {
  readonly #cache = new Map<string, { record: ApiKeyRecord; responseHmacKey: Uint8Array; until: number }>();

  constructor(private readonly store: Store) {
    store.onChange((n) => {
      if (n.topic === 'api_key' || n.topic === 'tenant') this.#cache.clear();
    });
  }

  async createTenant(name: string): Promise<TenantRecord> {
    const tenant: TenantRecord = { id: newId('tenant'), name, createdAt: new Date().toISOString() };
    await this.store.createTenant(tenant);
    return tenant;
  }

  /** Issues a key; the plain key is in the answer only, never stored. */
  async issueApiKey(tenantId: string, mode: 'live' | 'test' = 'live'): Promise<{ apiKey: string; record: ApiKeyRecord }> {
    if ((await this.store.getTenant(tenantId)) === null) throw new QsError('QS_NOT_FOUND', 'no such tenant');
    const apiKey = generateApiKey(mode);
    const record: ApiKeyRecord = {
      id: newId('apiKey'),
      tenantId,
      keyHash: hashApiKey(apiKey),
      prefix: apiKeyPrefix(apiKey),
      createdAt: new Date().toISOString(),
      revokedAt: null,
    };
    await this.store.createApiKey(record);
    return { apiKey, record };
  }

  async revokeApiKey(tenantId: string, apiKeyId: string): Promise<void> {
    if (!(await this.store.revokeApiKey(tenantId, apiKeyId, new Date().toISOString()))) {
      throw new QsError('QS_NOT_FOUND', 'no such API key');
    }
    this.#cache.clear();
    await this.store.publishChange({ topic: 'api_key', id: apiKeyId });
  }

  /** Returns the principal, or throws QS_UNAUTHENTICATED for a missing, unknown or revoked key alike. */
  async authenticate(apiKey: unknown): Promise<Principal> {
    if (!looksLikeApiKey(apiKey)) throw new QsError('QS_UNAUTHENTICATED', 'missing or invalid API key');
    const hash = hashApiKey(apiKey);
    const now = Date.now();
    let record = this.#cache.get(hash);
    if (record === undefined || record.until < now) {
      const found = await this.store.findApiKeyByHash(hash);
      if (found === null) throw new QsError('QS_UNAUTHENTICATED', 'missing or invalid API key');
      // Derived once per cache entry, not per answer (an HKDF-SHA-512 was ~4% of the proxy's loop).
      record = { record: found, responseHmacKey: deriveResponseHmacKey(apiKey, found.tenantId), until: now + AUTH_CACHE_TTL_MS };
      this.#cache.set(hash, record);
    }
    if (record.record.revokedAt !== null) throw new QsError('QS_UNAUTHENTICATED', 'missing or invalid API key');
    return { tenantId: record.record.tenantId, apiKeyId: record.record.id, responseHmacKey: record.responseHmacKey };
  }
}
