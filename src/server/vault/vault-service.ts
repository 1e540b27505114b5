import type { CryptoBackend } from '../../crypto/backend.js';
import { QsError } from '../../protocol/errors.js';
import { newId } from '../../protocol/ids.js';
import type { TenantKeys } from '../keys/tenant-keys.js';
import type { CredentialRecord, Store } from '../store/store.js';
import { sealCredential, unsealCredential } from './credential-seal.js';
import { validateDsn } from './dsn.js';

/** Tries a login with a DSN; resolves with least-privilege warnings, rejects with a QsError. */
export type LoginChecker = (dsn: string) => Promise<{ warnings: string[] }>;

export interface CredentialMetadata {
  credential_id: string;
  name: string | null;
  credential_type: 'database_dsn';
  version: number;
  created_at: string;
}

const metadata = (c: CredentialRecord): CredentialMetadata => ({
  credential_id: c.id,
  name: c.name,
  credential_type: c.credentialType,
  version: c.version,
  created_at: c.createdAt,
});

/**
 * The credential vault (DESIGN §6): DSNs sealed under the tenant's ML-KEM-768 vault key,
 * versioned, rotated in two phases, unsealed only when the executor opens connections.
 */
export class VaultService {
  constructor(
    private readonly store: Store,
    private readonly tenantKeys: TenantKeys,
    private readonly backend: CryptoBackend,
    private readonly checkLogin: LoginChecker,
  ) {}

  async seal(tenantId: string, input: { dsn: unknown; name?: string | null; verify?: boolean }): Promise<CredentialMetadata & { warnings: string[] }> {
    const dsn = validateDsn(input.dsn);
    const warnings = input.verify === true ? await this.#verify(dsn) : [];
    const id = newId('credential');
    const record = await this.#sealVersion(tenantId, id, 1, dsn, input.name ?? null, 'current');
    await this.store.insertCredentialVersion(record);
    return { ...metadata(record), warnings };
  }

  /**
   * Stores the new DSN as pending, tries a login with it (unless verify is false), and only then
   * makes it current; the old version stays in use until that check passes and is kept, retired.
   */
  async rotate(tenantId: string, credentialId: string, input: { dsn: unknown; verify?: boolean }): Promise<CredentialMetadata & { warnings: string[] }> {
    const dsn = validateDsn(input.dsn);
    const versions = await this.store.listCredentialVersions(tenantId, credentialId);
    const current = versions.find((v) => v.status === 'current');
    if (current === undefined || current.deletedAt !== null) throw new QsError('QS_NOT_FOUND', 'no such credential');
    const version = Math.max(...versions.map((v) => v.version)) + 1;
    const pending = await this.#sealVersion(tenantId, credentialId, version, dsn, current.name, 'pending');
    await this.store.insertCredentialVersion(pending);
    let warnings: string[] = [];
    if (input.verify !== false) {
      try {
        warnings = await this.#verify(dsn);
      } catch (err) {
        await this.store.setCredentialVersionStatus(tenantId, credentialId, version, 'retired');
        throw err;
      }
    }
    await this.store.promoteCredentialVersion(tenantId, credentialId, version);
    await this.store.publishChange({ topic: 'credential', id: credentialId });
    return { ...metadata(pending), warnings };
  }

  async list(tenantId: string): Promise<CredentialMetadata[]> {
    return (await this.store.listCredentials(tenantId)).map(metadata);
  }

  async delete(tenantId: string, credentialId: string): Promise<void> {
    if ((await this.store.getCurrentCredential(tenantId, credentialId)) === null) throw new QsError('QS_NOT_FOUND', 'no such credential');
    if ((await this.store.countIntegrationsUsingCredential(tenantId, credentialId)) > 0) {
      throw new QsError('QS_CONFLICT', 'the credential is used by an integration; delete or repoint the integration first');
    }
    await this.store.deleteCredential(tenantId, credentialId, new Date().toISOString());
    await this.store.publishChange({ topic: 'credential', id: credentialId });
  }

  /** The current version's number, without unsealing. */
  async currentVersion(tenantId: string, credentialId: string): Promise<number | null> {
    return (await this.store.getCurrentCredential(tenantId, credentialId))?.version ?? null;
  }

  /** Unseals a specific version's DSN (the executor calls this when it opens a pool). */
  async unsealDsn(tenantId: string, credentialId: string, version?: number): Promise<{ dsn: string; version: number }> {
    const record =
      version === undefined
        ? await this.store.getCurrentCredential(tenantId, credentialId)
        : ((await this.store.listCredentialVersions(tenantId, credentialId)).find((v) => v.version === version) ?? null);
    if (record === null || record.status === 'retired' || record.deletedAt !== null) throw new QsError('QS_NOT_FOUND', 'no such credential');
    const key = await this.tenantKeys.vaultKey(tenantId);
    const values = unsealCredential(this.backend, key.secretKey, record.sealed, { tenantId, credentialId, version: record.version });
    const dsn = values.dsn;
    if (typeof dsn !== 'string') throw new QsError('QS_INTERNAL', 'sealed credential has no dsn');
    return { dsn, version: record.version };
  }

  async #verify(dsn: string): Promise<string[]> {
    try {
      return (await this.checkLogin(dsn)).warnings;
    } catch (err) {
      const reason = err instanceof QsError ? `${err.code}: ${err.message}` : 'login failed';
      throw new QsError('QS_CREDENTIAL_CHECK_FAILED', `a login with the new credential failed (${reason}); the current version stays in use`, { cause: err });
    }
  }

  async #sealVersion(tenantId: string, id: string, version: number, dsn: string, name: string | null, status: CredentialRecord['status']): Promise<CredentialRecord> {
    const key = await this.tenantKeys.vaultKey(tenantId);
    return {
      id,
      tenantId,
      version,
      name,
      credentialType: 'database_dsn',
      status,
      sealed: sealCredential(this.backend, key.publicKey, { dsn }, { tenantId, credentialId: id, version }),
      createdAt: new Date().toISOString(),
      deletedAt: null,
    };
  }
}
