import { ML_KEM_768 } from '../../crypto/backend.js';
import { isMlKem768PublicKey } from '../../crypto/ml-kem-public-key.js';
import { fromBase64Strict } from '../../protocol/bytes.js';
import { QsError } from '../../protocol/errors.js';
import { keyIdFor } from '../../protocol/keys.js';
import type { RecipientKeyRecord, Store } from '../store/store.js';

/**
 * Client ML-KEM-768 public keys, registered per tenant. The key id is derived from the key
 * itself, so a client cannot register a key under someone else's id.
 */
export class RecipientKeyService {
  readonly #cache = new Map<string, { record: RecipientKeyRecord; until: number }>();

  constructor(private readonly store: Store) {
    store.onChange((n) => {
      if (n.topic === 'recipient_key') this.#cache.clear();
    });
  }

  async register(tenantId: string, input: { public_key: unknown; key_id?: unknown }): Promise<RecipientKeyRecord> {
    const publicKey = fromBase64Strict(input.public_key, { length: ML_KEM_768.publicKeyBytes });
    if (publicKey === null) throw new QsError('QS_INVALID_REQUEST', `public_key must be a base64 ML-KEM-768 public key (${ML_KEM_768.publicKeyBytes} bytes)`);
    if (!isMlKem768PublicKey(publicKey)) throw new QsError('QS_INVALID_REQUEST', 'public_key is not an ML-KEM-768 public key (it fails the FIPS 203 modulus check)');
    const keyId = keyIdFor('rk', publicKey);
    if (input.key_id !== undefined && input.key_id !== keyId) throw new QsError('QS_INVALID_REQUEST', 'key_id does not match the public key');
    const existing = await this.store.getRecipientKey(tenantId, keyId);
    if (existing !== null) return existing;
    const record: RecipientKeyRecord = { tenantId, keyId, publicKey: new Uint8Array(publicKey), createdAt: new Date().toISOString(), revokedAt: null };
    await this.store.putRecipientKey(record);
    await this.store.publishChange({ topic: 'recipient_key', id: keyId });
    return record;
  }

  /** The named key, or the tenant's newest one; QS_INVALID_REQUEST when there is none to seal to. */
  async resolve(tenantId: string, keyId: string | undefined): Promise<RecipientKeyRecord> {
    const cacheKey = `${tenantId}/${keyId ?? '*'}`;
    const hit = this.#cache.get(cacheKey);
    if (hit && hit.until > Date.now()) return hit.record;
    let record: RecipientKeyRecord | null;
    if (keyId !== undefined) {
      record = await this.store.getRecipientKey(tenantId, keyId);
    } else {
      const all = (await this.store.listRecipientKeys(tenantId)).filter((k) => k.revokedAt === null);
      record = all.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0] ?? null;
    }
    if (record === null || record.revokedAt !== null) {
      throw new QsError('QS_INVALID_REQUEST', 'no recipient key registered for this tenant under that id: register one with POST /api/v2/keys/recipient');
    }
    if (this.#cache.size > 10_000) this.#cache.clear();
    // A TTL too, in case a revocation notice from another node was lost.
    this.#cache.set(cacheKey, { record, until: Date.now() + 60_000 });
    return record;
  }
}
