import type { CryptoBackend } from '../../crypto/backend.js';
import { generateSigningKeyPair } from '../../protocol/keys.js';
import type { KmsProvider } from '../kms/kms.js';
import type { Store } from '../store/store.js';

export interface ActiveSigningKey {
  keyId: string;
  publicKey: Uint8Array;
  /** The ML-DSA-65 seed, unwrapped into memory only. */
  secretKey: Uint8Array;
}

const kmsContext = (keyId: string) => `quantaseal/signing-key/${keyId}`;

/**
 * The server's ML-DSA-65 signing key: created on first start, its seed wrapped by the KMS and
 * stored; every node sharing the store loads the same active key (first node wins the race).
 */
export async function loadSigningKey(store: Store, kms: KmsProvider, backend: CryptoBackend): Promise<ActiveSigningKey> {
  let record = await store.getActiveSigningKey();
  if (record === null) {
    const fresh = await generateSigningKeyPair(backend);
    record = await store.ensureSigningKey({
      keyId: fresh.keyId,
      publicKey: fresh.publicKey,
      wrappedSecret: await kms.wrap(fresh.secretKey, kmsContext(fresh.keyId)),
      createdAt: new Date().toISOString(),
      active: true,
    });
  }
  const secretKey = await kms.unwrap(record.wrappedSecret, kmsContext(record.keyId));
  return { keyId: record.keyId, publicKey: record.publicKey, secretKey };
}
