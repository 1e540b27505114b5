import { randomBytes } from 'node:crypto';
import { ML_KEM_768, type CryptoBackend } from '../../crypto/backend.js';
import { sha256 } from '../../crypto/symmetric.js';
import type { KmsProvider } from '../kms/kms.js';
import type { Store, TenantKeyRecord } from '../store/store.js';

export interface TenantVaultKey {
  keyId: string;
  publicKey: Uint8Array;
  /** ML-KEM-768 seed (d‖z). */
  secretKey: Uint8Array;
}

export interface TenantTokenKey {
  keyId: string;
  /** 64-byte AES-SIV key (AES-256-SIV uses two 256-bit halves). */
  secretKey: Uint8Array;
}

const kmsContext = (tenantId: string, purpose: string, keyId: string) => `quantaseal/tenant-key/${purpose}/${tenantId}/${keyId}`;

/**
 * Per-tenant key material (DESIGN §6): an ML-KEM-768 vault key pair for sealing credentials and
 * a token key for deterministic tokenization, each created on first use and wrapped by the KMS.
 * Unwrapped keys are cached in memory; they never change once made.
 */
export class TenantKeys {
  readonly #vault = new Map<string, Promise<TenantVaultKey>>();
  readonly #token = new Map<string, Promise<TenantTokenKey>>();

  constructor(
    private readonly store: Store,
    private readonly kms: KmsProvider,
    private readonly backend: CryptoBackend,
  ) {}

  vaultKey(tenantId: string): Promise<TenantVaultKey> {
    return this.#memo(this.#vault, tenantId, async () => {
      const record = await this.#ensure(tenantId, 'vault', () => {
        const seed = new Uint8Array(randomBytes(ML_KEM_768.seedBytes));
        return { seed, publicKey: this.backend.kemPublicKey(seed) };
      });
      const secretKey = await this.kms.unwrap(record.wrappedSecret, kmsContext(tenantId, 'vault', record.keyId));
      return { keyId: record.keyId, publicKey: record.publicKey ?? this.backend.kemPublicKey(secretKey), secretKey };
    });
  }

  tokenKey(tenantId: string): Promise<TenantTokenKey> {
    return this.#memo(this.#token, tenantId, async () => {
      const record = await this.#ensure(tenantId, 'token', () => ({ seed: new Uint8Array(randomBytes(64)), publicKey: null }));
      const secretKey = await this.kms.unwrap(record.wrappedSecret, kmsContext(tenantId, 'token', record.keyId));
      return { keyId: record.keyId, secretKey };
    });
  }

  async #ensure(
    tenantId: string,
    purpose: TenantKeyRecord['purpose'],
    make: () => { seed: Uint8Array; publicKey: Uint8Array | null },
  ): Promise<TenantKeyRecord> {
    const existing = await this.store.getTenantKey(tenantId, purpose);
    if (existing !== null) return existing;
    const { seed, publicKey } = make();
    const keyId = `${purpose}_${sha256(Buffer.concat([Buffer.from(tenantId), seed.subarray(0, 8), randomBytes(8)])).subarray(0, 12).toString('hex')}`;
    return this.store.ensureTenantKey({
      tenantId,
      purpose,
      keyId,
      publicKey,
      wrappedSecret: await this.kms.wrap(seed, kmsContext(tenantId, purpose, keyId)),
      createdAt: new Date().toISOString(),
    });
  }

  #memo<T>(map: Map<string, Promise<T>>, tenantId: string, load: () => Promise<T>): Promise<T> {
    let p = map.get(tenantId);
    if (p === undefined) {
      p = load();
      map.set(tenantId, p);
      p.catch(() => map.delete(tenantId));
    }
    return p;
  }
}
