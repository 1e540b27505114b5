/**
 * The persistence seam of the server (DESIGN §6). Two implementations pass one contract suite:
 * SQLite (embedded default) and PostgreSQL (schema `quantaseal`, shared by several nodes).
 *
 * Nothing here holds a secret in the clear: API keys are SHA-256 hashes, credentials are sealed
 * blobs, key material is wrapped by the KMS. The store only moves bytes; the vault, key and
 * audit modules own the cryptography.
 */

export interface TenantRecord {
  id: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  /** `key_<ULID>`: the public id of an API key (shown in audit events). */
  id: string;
  tenantId: string;
  /** SHA-256 of the full API key, hex. */
  keyHash: string;
  /** The first characters of the key (e.g. `qs_live_AbC1`), for people to tell keys apart. */
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

/** Server ML-DSA-65 signing keys; the seed is wrapped by the KMS. */
export interface SigningKeyRecord {
  keyId: string;
  publicKey: Uint8Array;
  wrappedSecret: Uint8Array;
  createdAt: string;
  active: boolean;
}

/** Per-tenant key material (the vault ML-KEM key, the token key), wrapped by the KMS. */
export interface TenantKeyRecord {
  tenantId: string;
  purpose: 'vault' | 'token';
  keyId: string;
  publicKey: Uint8Array | null;
  wrappedSecret: Uint8Array;
  createdAt: string;
}

/** A client's ML-KEM-768 public key registered for a tenant. */
export interface RecipientKeyRecord {
  tenantId: string;
  keyId: string;
  publicKey: Uint8Array;
  createdAt: string;
  revokedAt: string | null;
}

export type CredentialStatus = 'current' | 'pending' | 'retired';

/** One version of a sealed credential. */
export interface CredentialRecord {
  id: string;
  tenantId: string;
  version: number;
  name: string | null;
  credentialType: 'database_dsn';
  status: CredentialStatus;
  /** The sealed values (vault format, opaque to the store). */
  sealed: Uint8Array;
  createdAt: string;
  deletedAt: string | null;
}

export interface IntegrationRecord {
  id: string;
  tenantId: string;
  name: string | null;
  systemType: 'postgres';
  credentialId: string;
  allowedOperations: string[];
  tokenization: { fields: TokenizationField[] };
  limits: IntegrationLimits;
  createdAt: string;
  updatedAt: string;
}

export interface TokenizationField {
  schema: string;
  table: string;
  column: string;
  mode: 'deterministic' | 'random';
  detokenize: boolean;
}

export interface IntegrationLimits {
  max_rows?: number;
  statement_timeout_ms?: number;
  max_sessions?: number;
  session_idle_timeout_ms?: number;
}

export type AuditOutcome = 'allowed' | 'denied' | 'failed';

/** An audit event before it is chained (the store assigns seq, prev_hash and hash). */
export interface AuditEventInput {
  id: string;
  tenantId: string;
  ts: string;
  integrationId: string | null;
  operation: string | null;
  apiKeyId: string | null;
  requestId: string | null;
  route: string;
  /** libpg-query fingerprint(s) of the SQL, never parameter values. */
  fingerprint: string | null;
  outcome: AuditOutcome;
  sqlstate: string | null;
  qsCode: string | null;
  rowCount: number | null;
  durationMs: number;
}

export interface AuditEventRecord extends AuditEventInput {
  /** 1, 2, 3 … per tenant. */
  seq: number;
  prevHash: string;
  hash: string;
}

/** Computes an event's chain hash from the previous hash and the event (with seq). */
export type AuditHasher = (prevHash: string, event: AuditEventInput & { seq: number }) => string;

export interface AuditQuery {
  integrationId?: string;
  /** Only events with seq greater than this. */
  afterSeq?: number;
  limit: number;
}

export interface StoredToken {
  tenantId: string;
  token: string;
  ciphertext: Uint8Array;
  createdAt: string;
}

/** Topics of cache invalidations broadcast to every node sharing the store. */
export type ChangeTopic = 'api_key' | 'integration' | 'credential' | 'tenant' | 'recipient_key';

export interface ChangeNotice {
  topic: ChangeTopic;
  id: string;
}

/** Hints for {@link Store.appendAuditEvents}. */
export interface AuditAppendOptions {
  /**
   * The caller has work to run meanwhile (other requests, the answer's own signature): a store
   * that can commit synchronously on the caller's thread (SQLite's fsync) must not, or that work
   * waits for the disk.
   */
  mustNotBlock?: boolean;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';

  // Tenants and API keys.
  createTenant(t: TenantRecord): Promise<void>;
  getTenant(id: string): Promise<TenantRecord | null>;
  listTenants(): Promise<TenantRecord[]>;
  createApiKey(k: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Returns false when no such key exists for the tenant. */
  revokeApiKey(tenantId: string, id: string, at: string): Promise<boolean>;

  // Keys.
  getActiveSigningKey(): Promise<SigningKeyRecord | null>;
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts unless a key is already active (returns the active one: first node wins). */
  ensureSigningKey(k: SigningKeyRecord): Promise<SigningKeyRecord>;
  /** Inserts unless one exists for (tenant, purpose) and returns the one stored. */
  ensureTenantKey(k: TenantKeyRecord): Promise<TenantKeyRecord>;
  getTenantKey(tenantId: string, purpose: TenantKeyRecord['purpose']): Promise<TenantKeyRecord | null>;
  putRecipientKey(k: RecipientKeyRecord): Promise<void>;
  getRecipientKey(tenantId: string, keyId: string): Promise<RecipientKeyRecord | null>;
  listRecipientKeys(tenantId: string): Promise<RecipientKeyRecord[]>;

  // Credentials (versioned).
  insertCredentialVersion(c: CredentialRecord): Promise<void>;
  /** The current version, or null (unknown, deleted, or another tenant's). */
  getCurrentCredential(tenantId: string, id: string): Promise<CredentialRecord | null>;
  listCredentialVersions(tenantId: string, id: string): Promise<CredentialRecord[]>;
  /** Latest version per credential id, without deleted ones. */
  listCredentials(tenantId: string): Promise<CredentialRecord[]>;
  /** Makes `version` current and every other version retired, atomically. */
  promoteCredentialVersion(tenantId: string, id: string, version: number): Promise<boolean>;
  setCredentialVersionStatus(tenantId: string, id: string, version: number, status: CredentialStatus): Promise<boolean>;
  deleteCredential(tenantId: string, id: string, at: string): Promise<boolean>;

  // Integrations.
  createIntegration(i: IntegrationRecord): Promise<void>;
  getIntegration(tenantId: string, id: string): Promise<IntegrationRecord | null>;
  listIntegrations(tenantId: string): Promise<IntegrationRecord[]>;
  updateIntegration(i: IntegrationRecord): Promise<boolean>;
  deleteIntegration(tenantId: string, id: string): Promise<boolean>;
  countIntegrationsUsingCredential(tenantId: string, credentialId: string): Promise<number>;

  // Audit (append-only, hash-chained per tenant).
  /**
   * Appends events in one transaction (one commit for the whole batch), assigning per-tenant
   * seq and chaining hashes with `hasher` under a lock on each tenant's chain head, so several
   * nodes sharing the store never fork a chain. Durable when the promise resolves.
   */
  appendAuditEvents(events: AuditEventInput[], hasher: AuditHasher, opts?: AuditAppendOptions): Promise<AuditEventRecord[]>;
  listAuditEvents(tenantId: string, q: AuditQuery): Promise<AuditEventRecord[]>;
  /** Every event of a tenant in seq order, for verification. */
  readAuditChain(tenantId: string): AsyncIterable<AuditEventRecord>;

  // Token vault (random-mode tokens).
  putToken(t: StoredToken): Promise<void>;
  getTokens(tenantId: string, tokens: string[]): Promise<Map<string, Uint8Array>>;

  // At most once across the nodes sharing the store (the data plane's reruns on the write pool).
  /**
   * True the first time `key` is claimed for the tenant, or when its earlier claim expired by
   * `now` (ms since the epoch); false while an earlier claim lives. The claim then holds until
   * `expiresAt`. Concurrent claims of one key: exactly one wins.
   */
  claimRequest(tenantId: string, key: string, expiresAt: number, now: number): Promise<boolean>;

  // Cross-node cache invalidation.
  publishChange(notice: ChangeNotice): Promise<void>;
  /** Returns an unsubscribe function. */
  onChange(listener: (notice: ChangeNotice) => void): () => void;

  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
