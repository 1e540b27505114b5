import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { QsError } from '../../protocol/errors.js';
import { auditHasher } from '../audit/audit-chain.js';
import { pageAuditChain } from './audit-chain.js';
import { appendAuditBatch } from './sqlite-audit-append.js';
import { SqliteAuditThread } from './sqlite-audit-thread.js';
import { ChangeHub } from './change-hub.js';
import { MemoryRequestClaims } from './memory-request-claims.js';
import { pendingMigrations } from './migration.js';
import { loadSqlite, type SqliteDatabase, type SqliteStatement } from './sqlite-driver.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { mapConstraintError, toBuffer, toBytes } from './store-errors.js';
import {
  apiKeyFromRow,
  auditFromRow,
  credentialFromRow,
  integrationFromRow,
  recipientKeyFromRow,
  signingKeyFromRow,
  tenantFromRow,
  tenantKeyFromRow,
  type Row,
} from './store-rows.js';
import type {
  ApiKeyRecord,
  AuditAppendOptions,
  AuditEventInput,
  AuditEventRecord,
  AuditHasher,
  AuditQuery,
  ChangeNotice,
  CredentialRecord,
  CredentialStatus,
  IntegrationRecord,
  RecipientKeyRecord,
  SigningKeyRecord,
  Store,
  StoredToken,
  TenantKeyRecord,
  TenantRecord,
} from './store.js';

/** Tokens per `IN (…)` list, well under SQLite's bound-parameter limit. */
const TOKEN_CHUNK = 500;

/**
 * The embedded store (DESIGN §6): one SQLite file in WAL mode, for a single node.
 *
 * better-sqlite3 is synchronous, so each method runs to completion before the next starts; the
 * async signatures exist only to match Store. `synchronous = FULL` makes every commit fsync the
 * WAL, which is what "the audit event is durable before the answer leaves" needs (NORMAL may
 * lose the last commits on power loss). Audit appends — one per answer — therefore commit on a
 * writer thread with its own connection (sqlite-audit-worker.ts), so their fsync does not stall
 * the event loop (+14% point SELECTs per second at 32 in flight on the 2-core box).
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #changes = new ChangeHub();
  readonly #claims = new MemoryRequestClaims();
  readonly #auditThread: SqliteAuditThread | null;

  private constructor(db: SqliteDatabase, auditThread: SqliteAuditThread | null) {
    this.#db = db;
    this.#auditThread = auditThread;
  }

  /**
   * Opens (creating it and its directory if needed) the database at `path` and applies pending
   * migrations. `:memory:` gives a private in-memory database. Audit appends go to a writer
   * thread on a second connection (so their fsync never blocks the event loop) unless the
   * database is in memory, `auditThread` is false, or `QS_SQLITE_AUDIT_THREAD=0`.
   */
  static async open(path: string, opts: { auditThread?: boolean } = {}): Promise<SqliteStore> {
    const inMemory = path === ':memory:';
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
    const Database = loadSqlite();
    const db = new Database(path, { timeout: 5000 });
    try {
      if (!inMemory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    const threaded = !inMemory && (opts.auditThread ?? process.env.QS_SQLITE_AUDIT_THREAD !== '0');
    return new SqliteStore(db, threaded ? new SqliteAuditThread(resolve(path)) : null);
  }

  #stmt(sql: string): SqliteStatement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #run(sql: string, what: string, ...params: unknown[]): number {
    try {
      return this.#stmt(sql).run(...params).changes;
    } catch (err) {
      throw mapConstraintError(err, what);
    }
  }

  #get(sql: string, ...params: unknown[]): Row | undefined {
    return this.#stmt(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: unknown[]): Row[] {
    return this.#stmt(sql).all(...params) as Row[];
  }

  // Tenants and API keys.

  /** Inserts a tenant; QS_CONFLICT if the id exists. */
  async createTenant(t: TenantRecord): Promise<void> {
    this.#run('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)', 'tenant', t.id, t.name, t.createdAt);
  }

  /** The tenant, or null. */
  async getTenant(id: string): Promise<TenantRecord | null> {
    const row = this.#get('SELECT * FROM tenants WHERE id = ?', id);
    return row ? tenantFromRow(row) : null;
  }

  /** Every tenant, oldest first. */
  async listTenants(): Promise<TenantRecord[]> {
    return this.#all('SELECT * FROM tenants ORDER BY created_at, id').map(tenantFromRow);
  }

  /** Inserts an API key record; QS_CONFLICT if the id or hash exists. */
  async createApiKey(k: ApiKeyRecord): Promise<void> {
    this.#run(
      'INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)',
      'API key',
      k.id,
      k.tenantId,
      k.keyHash,
      k.prefix,
      k.createdAt,
      k.revokedAt ?? null,
    );
  }

  /** The key with this SHA-256 hash (revoked ones too: the caller checks revokedAt). */
  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const row = this.#get('SELECT * FROM api_keys WHERE key_hash = ?', keyHash);
    return row ? apiKeyFromRow(row) : null;
  }

  /** The tenant's keys, oldest first. */
  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.#all('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id', tenantId).map(apiKeyFromRow);
  }

  /** Marks the key revoked; revoking twice keeps the first time and still answers true. */
  async revokeApiKey(tenantId: string, id: string, at: string): Promise<boolean> {
    const changes = this.#run(
      'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?',
      'API key',
      at,
      tenantId,
      id,
    );
    return changes > 0;
  }

  // Keys.

  /** The one active signing key, or null before the first start. */
  async getActiveSigningKey(): Promise<SigningKeyRecord | null> {
    const row = this.#get('SELECT * FROM signing_keys WHERE active = 1');
    return row ? signingKeyFromRow(row) : null;
  }

  /** Every signing key, oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#all('SELECT * FROM signing_keys ORDER BY created_at, key_id').map(signingKeyFromRow);
  }

  /** Inserts `k` unless a key is already active; returns the active key (or `k` as stored). */
  async ensureSigningKey(k: SigningKeyRecord): Promise<SigningKeyRecord> {
    // The partial unique index turns a second active key into a conflict that is ignored.
    this.#run(
      `INSERT INTO signing_keys (key_id, public_key, wrapped_secret, created_at, active)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      'signing key',
      k.keyId,
      toBuffer(k.publicKey),
      toBuffer(k.wrappedSecret),
      k.createdAt,
      k.active ? 1 : 0,
    );
    const row = this.#get('SELECT * FROM signing_keys WHERE active = 1') ?? this.#get('SELECT * FROM signing_keys WHERE key_id = ?', k.keyId);
    if (!row) throw new QsError('QS_INTERNAL', 'signing key vanished after insert');
    return signingKeyFromRow(row);
  }

  /** Inserts `k` unless (tenant, purpose) has a key; returns the stored one. */
  async ensureTenantKey(k: TenantKeyRecord): Promise<TenantKeyRecord> {
    this.#run(
      `INSERT INTO tenant_keys (tenant_id, purpose, key_id, public_key, wrapped_secret, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      'tenant key',
      k.tenantId,
      k.purpose,
      k.keyId,
      k.publicKey ? toBuffer(k.publicKey) : null,
      toBuffer(k.wrappedSecret),
      k.createdAt,
    );
    const stored = await this.getTenantKey(k.tenantId, k.purpose);
    if (!stored) throw new QsError('QS_INTERNAL', 'tenant key vanished after insert');
    return stored;
  }

  /** The tenant's key for this purpose, or null. */
  async getTenantKey(tenantId: string, purpose: TenantKeyRecord['purpose']): Promise<TenantKeyRecord | null> {
    const row = this.#get('SELECT * FROM tenant_keys WHERE tenant_id = ? AND purpose = ?', tenantId, purpose);
    return row ? tenantKeyFromRow(row) : null;
  }

  /** Inserts or replaces (tenant, keyId): re-registering or revoking a key is a put. */
  async putRecipientKey(k: RecipientKeyRecord): Promise<void> {
    this.#run(
      `INSERT INTO recipient_keys (tenant_id, key_id, public_key, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, key_id) DO UPDATE SET public_key = excluded.public_key, revoked_at = excluded.revoked_at`,
      'recipient key',
      k.tenantId,
      k.keyId,
      toBuffer(k.publicKey),
      k.createdAt,
      k.revokedAt ?? null,
    );
  }

  /** The tenant's recipient key, or null. */
  async getRecipientKey(tenantId: string, keyId: string): Promise<RecipientKeyRecord | null> {
    const row = this.#get('SELECT * FROM recipient_keys WHERE tenant_id = ? AND key_id = ?', tenantId, keyId);
    return row ? recipientKeyFromRow(row) : null;
  }

  /** The tenant's recipient keys, oldest first (revoked ones included). */
  async listRecipientKeys(tenantId: string): Promise<RecipientKeyRecord[]> {
    return this.#all('SELECT * FROM recipient_keys WHERE tenant_id = ? ORDER BY created_at, key_id', tenantId).map(recipientKeyFromRow);
  }

  // Credentials.

  /** Inserts one version; QS_CONFLICT if (id, version) exists (two rotations racing). */
  async insertCredentialVersion(c: CredentialRecord): Promise<void> {
    this.#run(
      `INSERT INTO credentials (id, version, tenant_id, name, credential_type, status, sealed, created_at, deleted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      'credential version',
      c.id,
      c.version,
      c.tenantId,
      c.name ?? null,
      c.credentialType,
      c.status,
      toBuffer(c.sealed),
      c.createdAt,
      c.deletedAt ?? null,
    );
  }

  /** The current, non-deleted version, or null. */
  async getCurrentCredential(tenantId: string, id: string): Promise<CredentialRecord | null> {
    const row = this.#get(
      `SELECT * FROM credentials WHERE tenant_id = ? AND id = ? AND status = 'current' AND deleted_at IS NULL
       ORDER BY version DESC LIMIT 1`,
      tenantId,
      id,
    );
    return row ? credentialFromRow(row) : null;
  }

  /** Every version (deleted ones included, with deletedAt set), oldest first. */
  async listCredentialVersions(tenantId: string, id: string): Promise<CredentialRecord[]> {
    return this.#all('SELECT * FROM credentials WHERE tenant_id = ? AND id = ? ORDER BY version', tenantId, id).map(credentialFromRow);
  }

  /** The latest version of each non-deleted credential, by id. */
  async listCredentials(tenantId: string): Promise<CredentialRecord[]> {
    return this.#all(
      `SELECT c.* FROM credentials c
       WHERE c.tenant_id = ? AND c.deleted_at IS NULL
         AND c.version = (SELECT MAX(version) FROM credentials m WHERE m.tenant_id = c.tenant_id AND m.id = c.id)
       ORDER BY c.id`,
      tenantId,
    ).map(credentialFromRow);
  }

  /** Makes `version` current and every other version retired, in one transaction. */
  async promoteCredentialVersion(tenantId: string, id: string, version: number): Promise<boolean> {
    const promote = this.#db.transaction((): boolean => {
      const target = this.#get('SELECT 1 FROM credentials WHERE tenant_id = ? AND id = ? AND version = ? AND deleted_at IS NULL', tenantId, id, version);
      if (!target) return false;
      this.#run(
        `UPDATE credentials SET status = CASE WHEN version = ? THEN 'current' ELSE 'retired' END
         WHERE tenant_id = ? AND id = ?`,
        'credential',
        version,
        tenantId,
        id,
      );
      return true;
    });
    return promote.immediate();
  }

  /** Sets one version's status (e.g. pending → retired when a login check fails). */
  async setCredentialVersionStatus(tenantId: string, id: string, version: number, status: CredentialStatus): Promise<boolean> {
    const changes = this.#run(
      'UPDATE credentials SET status = ? WHERE tenant_id = ? AND id = ? AND version = ? AND deleted_at IS NULL',
      'credential',
      status,
      tenantId,
      id,
      version,
    );
    return changes > 0;
  }

  /** Soft-deletes every version; false when unknown, another tenant's, or already deleted. */
  async deleteCredential(tenantId: string, id: string, at: string): Promise<boolean> {
    const changes = this.#run('UPDATE credentials SET deleted_at = ? WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL', 'credential', at, tenantId, id);
    return changes > 0;
  }

  // Integrations.

  /** Inserts an integration; QS_CONFLICT if the id exists. */
  async createIntegration(i: IntegrationRecord): Promise<void> {
    this.#run(
      `INSERT INTO integrations (id, tenant_id, name, system_type, credential_id, allowed_operations, tokenization, limits, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      'integration',
      i.id,
      i.tenantId,
      i.name ?? null,
      i.systemType,
      i.credentialId,
      JSON.stringify(i.allowedOperations),
      JSON.stringify(i.tokenization),
      JSON.stringify(i.limits),
      i.createdAt,
      i.updatedAt,
    );
  }

  /** The tenant's integration, or null. */
  async getIntegration(tenantId: string, id: string): Promise<IntegrationRecord | null> {
    const row = this.#get('SELECT * FROM integrations WHERE tenant_id = ? AND id = ?', tenantId, id);
    return row ? integrationFromRow(row) : null;
  }

  /** The tenant's integrations, oldest first. */
  async listIntegrations(tenantId: string): Promise<IntegrationRecord[]> {
    return this.#all('SELECT * FROM integrations WHERE tenant_id = ? ORDER BY created_at, id', tenantId).map(integrationFromRow);
  }

  /** Replaces every mutable field (not tenantId, id, createdAt); false when not the tenant's. */
  async updateIntegration(i: IntegrationRecord): Promise<boolean> {
    const changes = this.#run(
      `UPDATE integrations SET name = ?, system_type = ?, credential_id = ?, allowed_operations = ?, tokenization = ?, limits = ?, updated_at = ?
       WHERE tenant_id = ? AND id = ?`,
      'integration',
      i.name ?? null,
      i.systemType,
      i.credentialId,
      JSON.stringify(i.allowedOperations),
      JSON.stringify(i.tokenization),
      JSON.stringify(i.limits),
      i.updatedAt,
      i.tenantId,
      i.id,
    );
    return changes > 0;
  }

  /** Deletes the integration; false when not the tenant's. */
  async deleteIntegration(tenantId: string, id: string): Promise<boolean> {
    return this.#run('DELETE FROM integrations WHERE tenant_id = ? AND id = ?', 'integration', tenantId, id) > 0;
  }

  /** How many of the tenant's integrations use the credential (a credential in use cannot be deleted). */
  async countIntegrationsUsingCredential(tenantId: string, credentialId: string): Promise<number> {
    const row = this.#get('SELECT COUNT(*) AS n FROM integrations WHERE tenant_id = ? AND credential_id = ?', tenantId, credentialId);
    return Number(row?.n ?? 0);
  }

  // Audit.

  /**
   * Chains and inserts the batch in one IMMEDIATE transaction (see Store), on the audit writer
   * thread when there is one. The thread knows only the standard chain hasher; any other runs here.
   */
  /** Where audit commits run: the writer thread, or this connection (in memory, disabled, or the thread failed). */
  get auditWriter(): 'thread' | 'inline' {
    return this.#auditThread !== null && this.#auditThread.failed === null ? 'thread' : 'inline';
  }

  async appendAuditEvents(events: AuditEventInput[], hasher: AuditHasher, opts: AuditAppendOptions = {}): Promise<AuditEventRecord[]> {
    const thread = this.#auditThread;
    // A lone event with the thread idle, from a caller with nothing else to do (a control-plane
    // call), commits here: faster than the hop to the thread. Otherwise the fsync must leave the
    // loop (and never run here while the thread holds the write lock, or the loop would wait).
    const inPlace = events.length === 1 && opts.mustNotBlock !== true && !(thread?.busy ?? false);
    if (thread !== null && thread.failed === null && hasher === auditHasher && !inPlace) return thread.append(events);
    return appendAuditBatch(this.#db, events, hasher);
  }

  /** Events by seq ascending, filtered by integration and afterSeq. */
  async listAuditEvents(tenantId: string, q: AuditQuery): Promise<AuditEventRecord[]> {
    return this.#all(
      `SELECT * FROM audit_events WHERE tenant_id = ? AND (? IS NULL OR integration_id = ?) AND seq > ?
       ORDER BY seq LIMIT ?`,
      tenantId,
      q.integrationId ?? null,
      q.integrationId ?? null,
      q.afterSeq ?? 0,
      q.limit,
    ).map(auditFromRow);
  }

  /** The whole chain in seq order, a page at a time. */
  readAuditChain(tenantId: string): AsyncIterable<AuditEventRecord> {
    return pageAuditChain(this, tenantId);
  }

  // Token vault.

  /** Stores a random-mode token; QS_CONFLICT if the tenant already has it. */
  async putToken(t: StoredToken): Promise<void> {
    this.#run('INSERT INTO tokens (tenant_id, token, ciphertext, created_at) VALUES (?, ?, ?, ?)', 'token', t.tenantId, t.token, toBuffer(t.ciphertext), t.createdAt);
  }

  /** The ciphertexts of the tenant's tokens that exist (unknown tokens are absent from the map). */
  async getTokens(tenantId: string, tokens: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const unique = [...new Set(tokens)];
    for (let i = 0; i < unique.length; i += TOKEN_CHUNK) {
      const chunk = unique.slice(i, i + TOKEN_CHUNK);
      const marks = chunk.map(() => '?').join(', ');
      for (const row of this.#all(`SELECT token, ciphertext FROM tokens WHERE tenant_id = ? AND token IN (${marks})`, tenantId, ...chunk)) {
        found.set(String(row.token), toBytes(row.ciphertext as Uint8Array));
      }
    }
    return found;
  }

  // Changes: one node, so an in-process hub is the whole story.

  /** Delivers the notice to this store's listeners before resolving. */
  async publishChange(notice: ChangeNotice): Promise<void> {
    this.#changes.deliver({ topic: notice.topic, id: notice.id });
  }

  /** Subscribes to change notices; returns the unsubscribe function. */
  onChange(listener: (notice: ChangeNotice) => void): () => void {
    return this.#changes.subscribe(listener);
  }

  /** In this process's memory: a SQLite store has one process (memory-request-claims.ts). */
  async claimRequest(tenantId: string, key: string, expiresAt: number, now: number): Promise<boolean> {
    return this.#claims.claim(tenantId, key, expiresAt, now);
  }

  /** Runs a trivial query. */
  async ping(): Promise<void> {
    this.#get('SELECT 1');
  }

  /** Closes the database (idempotent). */
  async close(): Promise<void> {
    await this.#auditThread?.close();
    this.#changes.clear();
    this.#statements.clear();
    if (this.#db.open) this.#db.close();
  }
}

function migrate(db: SqliteDatabase): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const run = db.transaction((): void => {
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
    const pending = pendingMigrations(
      SQLITE_MIGRATIONS,
      applied,
      (v) => new QsError('QS_CONFIG', `the SQLite store has schema version ${v}, newer than this QuantaSeal build knows; upgrade QuantaSeal`),
    );
    for (const m of pending) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
  });
  // IMMEDIATE: two processes opening a fresh file at once apply each step once.
  run.immediate();
}
