import pg from 'pg';
import { QsError } from '../../protocol/errors.js';
import { batchTenants, chainEvents, pageAuditChain, type ChainHead } from './audit-chain.js';
import { ChangeHub, parseChangeNotice } from './change-hub.js';
import { pendingMigrations } from './migration.js';
import { PostgresListener } from './postgres-listener.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { GENESIS_HASH, mapConstraintError, toBuffer, toBytes } from './store-errors.js';
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
  AuditEventInput,
  AuditEventRecord,
  AuditHasher,
  AuditQuery,
  ChangeNotice,
  ChangeTopic,
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

/** Every topic, for the resync after a reconnect. */
const CHANGE_TOPICS: readonly ChangeTopic[] = ['api_key', 'integration', 'credential', 'tenant', 'recipient_key'];

/** Schema names we interpolate into SQL: plain identifiers only, short enough for `<schema>_changes`. */
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,54}$/;

export interface PostgresStoreOptions {
  /** A postgres:// or postgresql:// URL. Kept out of this object's enumerable state. */
  url: string;
  /** The schema holding every table (default `quantaseal`); tests use a random one each. */
  schema?: string;
  /**
   * Open the LISTEN connection that feeds onChange (default true). One-shot tools such as
   * `audit verify` pass false and save a connection.
   */
  listen?: boolean;
  /** Pool size (default 10). */
  max?: number;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['url', 'schema', 'listen', 'max']);

/**
 * The shared store (DESIGN §6): every table in one schema of a PostgreSQL database, so several
 * proxy nodes can run against the same state. Chains, key creation and migrations are made
 * safe for concurrent nodes with row locks, ON CONFLICT and an advisory lock respectively;
 * cache invalidations travel by NOTIFY on a channel named after the schema.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** The schema name (validated). */
  readonly schema: string;
  readonly #pool: pg.Pool;
  /** `"schema"`, for qualifying table names. */
  readonly #s: string;
  readonly #channel: string;
  readonly #changes = new ChangeHub();
  #listener: PostgresListener | null = null;
  #closed = false;

  private constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.schema = schema;
    this.#s = `"${schema}"`;
    this.#channel = `${schema}_changes`;
  }

  /** Connects, applies pending migrations under an advisory lock and (by default) starts LISTENing. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new QsError('QS_CONFIG', `unknown PostgresStore option: ${key}`);
    }
    const schema = options.schema ?? 'quantaseal';
    if (!SCHEMA_RE.test(schema)) throw new QsError('QS_CONFIG', 'the store schema must be a lower-case SQL identifier (a-z, 0-9, _)');
    const url = options.url;
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
    // An idle client's socket error is emitted on the pool; unhandled, it would crash the process.
    // The pool already discards that client, and the next query reports any lasting outage.
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool, schema);
    try {
      await store.#migrate();
      if (options.listen ?? true) {
        const listener = new PostgresListener(
          () => new pg.Client({ connectionString: url }),
          store.#channel,
          (payload) => {
            const notice = parseChangeNotice(payload);
            if (notice) store.#changes.deliver(notice);
          },
          // Back after a drop: any notice may have been missed, so every cache starts over.
          () => {
            for (const topic of CHANGE_TOPICS) store.#changes.deliver({ topic, id: '*' });
          },
        );
        await listener.start();
        store.#listener = listener;
      }
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async #migrate(): Promise<void> {
    await this.#tx(async (c) => {
      // Transaction-scoped: released by COMMIT/ROLLBACK even if this node dies mid-migration.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`quantaseal.migrate.${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.#s}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.#s}.schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await c.query<{ version: number }>(`SELECT version FROM ${this.#s}.schema_migrations`);
      const pending = pendingMigrations(
        POSTGRES_MIGRATIONS,
        new Set(rows.map((r) => Number(r.version))),
        (v) => new QsError('QS_CONFIG', `schema ${this.schema} has migration ${v}, newer than this QuantaSeal build knows; upgrade QuantaSeal`),
      );
      if (pending.length === 0) return;
      await c.query(`SET LOCAL search_path TO ${this.#s}`);
      for (const m of pending) {
        await c.query(m.sql);
        await c.query(`INSERT INTO ${this.#s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      }
    });
  }

  /** Runs `fn` in a transaction on one pooled connection. */
  async #tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await c.query('ROLLBACK');
      } catch (rollbackErr) {
        // A connection that cannot roll back is in an unknown state: destroy it, don't reuse it.
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      c.release(broken);
    }
  }

  async #query(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query<Row>(sql, params)).rows;
  }

  async #exec(sql: string, params: unknown[], what: string): Promise<number> {
    try {
      return (await this.#pool.query(sql, params)).rowCount ?? 0;
    } catch (err) {
      throw mapConstraintError(err, what);
    }
  }

  // Tenants and API keys.

  /** Inserts a tenant; QS_CONFLICT if the id exists. */
  async createTenant(t: TenantRecord): Promise<void> {
    await this.#exec(`INSERT INTO ${this.#s}.tenants (id, name, created_at) VALUES ($1, $2, $3)`, [t.id, t.name, t.createdAt], 'tenant');
  }

  /** The tenant, or null. */
  async getTenant(id: string): Promise<TenantRecord | null> {
    const [row] = await this.#query(`SELECT * FROM ${this.#s}.tenants WHERE id = $1`, [id]);
    return row ? tenantFromRow(row) : null;
  }

  /** Every tenant, oldest first. */
  async listTenants(): Promise<TenantRecord[]> {
    return (await this.#query(`SELECT * FROM ${this.#s}.tenants ORDER BY created_at, id`)).map(tenantFromRow);
  }

  /** Inserts an API key record; QS_CONFLICT if the id or hash exists. */
  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await this.#exec(
      `INSERT INTO ${this.#s}.api_keys (id, tenant_id, key_hash, prefix, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [k.id, k.tenantId, k.keyHash, k.prefix, k.createdAt, k.revokedAt ?? null],
      'API key',
    );
  }

  /** The key with this SHA-256 hash (revoked ones too: the caller checks revokedAt). */
  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const [row] = await this.#query(`SELECT * FROM ${this.#s}.api_keys WHERE key_hash = $1`, [keyHash]);
    return row ? apiKeyFromRow(row) : null;
  }

  /** The tenant's keys, oldest first. */
  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return (await this.#query(`SELECT * FROM ${this.#s}.api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])).map(apiKeyFromRow);
  }

  /** Marks the key revoked; revoking twice keeps the first time and still answers true. */
  async revokeApiKey(tenantId: string, id: string, at: string): Promise<boolean> {
    const n = await this.#exec(
      `UPDATE ${this.#s}.api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3`,
      [at, tenantId, id],
      'API key',
    );
    return n > 0;
  }

  // Keys.

  /** The one active signing key, or null before the first start. */
  async getActiveSigningKey(): Promise<SigningKeyRecord | null> {
    const [row] = await this.#query(`SELECT * FROM ${this.#s}.signing_keys WHERE active`);
    return row ? signingKeyFromRow(row) : null;
  }

  /** Every signing key, oldest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return (await this.#query(`SELECT * FROM ${this.#s}.signing_keys ORDER BY created_at, key_id`)).map(signingKeyFromRow);
  }

  /** Inserts `k` unless a key is already active; returns the active key. Race-free across nodes. */
  async ensureSigningKey(k: SigningKeyRecord): Promise<SigningKeyRecord> {
    // ON CONFLICT without a target also absorbs the partial unique index on `active`:
    // when two nodes start at once, one insert wins and both then read the winner.
    await this.#exec(
      `INSERT INTO ${this.#s}.signing_keys (key_id, public_key, wrapped_secret, created_at, active)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [k.keyId, toBuffer(k.publicKey), toBuffer(k.wrappedSecret), k.createdAt, k.active],
      'signing key',
    );
    const [row] = await this.#query(
      `SELECT * FROM ${this.#s}.signing_keys WHERE active OR key_id = $1 ORDER BY active DESC LIMIT 1`,
      [k.keyId],
    );
    if (!row) throw new QsError('QS_INTERNAL', 'signing key vanished after insert');
    return signingKeyFromRow(row);
  }

  /** Inserts `k` unless (tenant, purpose) has a key; returns the stored one. Race-free across nodes. */
  async ensureTenantKey(k: TenantKeyRecord): Promise<TenantKeyRecord> {
    await this.#exec(
      `INSERT INTO ${this.#s}.tenant_keys (tenant_id, purpose, key_id, public_key, wrapped_secret, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [k.tenantId, k.purpose, k.keyId, k.publicKey ? toBuffer(k.publicKey) : null, toBuffer(k.wrappedSecret), k.createdAt],
      'tenant key',
    );
    const stored = await this.getTenantKey(k.tenantId, k.purpose);
    if (!stored) throw new QsError('QS_INTERNAL', 'tenant key vanished after insert');
    return stored;
  }

  /** The tenant's key for this purpose, or null. */
  async getTenantKey(tenantId: string, purpose: TenantKeyRecord['purpose']): Promise<TenantKeyRecord | null> {
    const [row] = await this.#query(`SELECT * FROM ${this.#s}.tenant_keys WHERE tenant_id = $1 AND purpose = $2`, [tenantId, purpose]);
    return row ? tenantKeyFromRow(row) : null;
  }

  /** Inserts or replaces (tenant, keyId): re-registering or revoking a key is a put. */
  async putRecipientKey(k: RecipientKeyRecord): Promise<void> {
    await this.#exec(
      `INSERT INTO ${this.#s}.recipient_keys (tenant_id, key_id, public_key, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, key_id) DO UPDATE SET public_key = excluded.public_key, revoked_at = excluded.revoked_at`,
      [k.tenantId, k.keyId, toBuffer(k.publicKey), k.createdAt, k.revokedAt ?? null],
      'recipient key',
    );
  }

  /** The tenant's recipient key, or null. */
  async getRecipientKey(tenantId: string, keyId: string): Promise<RecipientKeyRecord | null> {
    const [row] = await this.#query(`SELECT * FROM ${this.#s}.recipient_keys WHERE tenant_id = $1 AND key_id = $2`, [tenantId, keyId]);
    return row ? recipientKeyFromRow(row) : null;
  }

  /** The tenant's recipient keys, oldest first (revoked ones included). */
  async listRecipientKeys(tenantId: string): Promise<RecipientKeyRecord[]> {
    return (await this.#query(`SELECT * FROM ${this.#s}.recipient_keys WHERE tenant_id = $1 ORDER BY created_at, key_id`, [tenantId])).map(
      recipientKeyFromRow,
    );
  }

  // Credentials.

  /** Inserts one version; QS_CONFLICT if (id, version) exists (two rotations racing). */
  async insertCredentialVersion(c: CredentialRecord): Promise<void> {
    await this.#exec(
      `INSERT INTO ${this.#s}.credentials (id, version, tenant_id, name, credential_type, status, sealed, created_at, deleted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [c.id, c.version, c.tenantId, c.name ?? null, c.credentialType, c.status, toBuffer(c.sealed), c.createdAt, c.deletedAt ?? null],
      'credential version',
    );
  }

  /** The current, non-deleted version, or null. */
  async getCurrentCredential(tenantId: string, id: string): Promise<CredentialRecord | null> {
    const [row] = await this.#query(
      `SELECT * FROM ${this.#s}.credentials
       WHERE tenant_id = $1 AND id = $2 AND status = 'current' AND deleted_at IS NULL
       ORDER BY version DESC LIMIT 1`,
      [tenantId, id],
    );
    return row ? credentialFromRow(row) : null;
  }

  /** Every version (deleted ones included, with deletedAt set), oldest first. */
  async listCredentialVersions(tenantId: string, id: string): Promise<CredentialRecord[]> {
    return (await this.#query(`SELECT * FROM ${this.#s}.credentials WHERE tenant_id = $1 AND id = $2 ORDER BY version`, [tenantId, id])).map(
      credentialFromRow,
    );
  }

  /** The latest version of each non-deleted credential, by id. */
  async listCredentials(tenantId: string): Promise<CredentialRecord[]> {
    return (
      await this.#query(
        `SELECT DISTINCT ON (id) * FROM ${this.#s}.credentials
         WHERE tenant_id = $1 AND deleted_at IS NULL
         ORDER BY id, version DESC`,
        [tenantId],
      )
    ).map(credentialFromRow);
  }

  /** Makes `version` current and every other version retired, in one statement. */
  async promoteCredentialVersion(tenantId: string, id: string, version: number): Promise<boolean> {
    // One UPDATE is atomic on its own; the EXISTS guard makes an unknown version change nothing.
    const n = await this.#exec(
      `UPDATE ${this.#s}.credentials SET status = CASE WHEN version = $3 THEN 'current' ELSE 'retired' END
       WHERE tenant_id = $1 AND id = $2 AND EXISTS (
         SELECT 1 FROM ${this.#s}.credentials t WHERE t.tenant_id = $1 AND t.id = $2 AND t.version = $3 AND t.deleted_at IS NULL)`,
      [tenantId, id, version],
      'credential',
    );
    return n > 0;
  }

  /** Sets one version's status (e.g. pending → retired when a login check fails). */
  async setCredentialVersionStatus(tenantId: string, id: string, version: number, status: CredentialStatus): Promise<boolean> {
    const n = await this.#exec(
      `UPDATE ${this.#s}.credentials SET status = $4 WHERE tenant_id = $1 AND id = $2 AND version = $3 AND deleted_at IS NULL`,
      [tenantId, id, version, status],
      'credential',
    );
    return n > 0;
  }

  /** Soft-deletes every version; false when unknown, another tenant's, or already deleted. */
  async deleteCredential(tenantId: string, id: string, at: string): Promise<boolean> {
    const n = await this.#exec(
      `UPDATE ${this.#s}.credentials SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
      [tenantId, id, at],
      'credential',
    );
    return n > 0;
  }

  // Integrations.

  /** Inserts an integration; QS_CONFLICT if the id exists. */
  async createIntegration(i: IntegrationRecord): Promise<void> {
    await this.#exec(
      `INSERT INTO ${this.#s}.integrations
         (id, tenant_id, name, system_type, credential_id, allowed_operations, tokenization, limits, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10)`,
      [
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
      ],
      'integration',
    );
  }

  /** The tenant's integration, or null. */
  async getIntegration(tenantId: string, id: string): Promise<IntegrationRecord | null> {
    const [row] = await this.#query(`SELECT * FROM ${this.#s}.integrations WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return row ? integrationFromRow(row) : null;
  }

  /** The tenant's integrations, oldest first. */
  async listIntegrations(tenantId: string): Promise<IntegrationRecord[]> {
    return (await this.#query(`SELECT * FROM ${this.#s}.integrations WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])).map(
      integrationFromRow,
    );
  }

  /** Replaces every mutable field (not tenantId, id, createdAt); false when not the tenant's. */
  async updateIntegration(i: IntegrationRecord): Promise<boolean> {
    const n = await this.#exec(
      `UPDATE ${this.#s}.integrations SET name = $3, system_type = $4, credential_id = $5, allowed_operations = $6::jsonb,
         tokenization = $7::jsonb, limits = $8::jsonb, updated_at = $9
       WHERE tenant_id = $1 AND id = $2`,
      [
        i.tenantId,
        i.id,
        i.name ?? null,
        i.systemType,
        i.credentialId,
        JSON.stringify(i.allowedOperations),
        JSON.stringify(i.tokenization),
        JSON.stringify(i.limits),
        i.updatedAt,
      ],
      'integration',
    );
    return n > 0;
  }

  /** Deletes the integration; false when not the tenant's. */
  async deleteIntegration(tenantId: string, id: string): Promise<boolean> {
    return (await this.#exec(`DELETE FROM ${this.#s}.integrations WHERE tenant_id = $1 AND id = $2`, [tenantId, id], 'integration')) > 0;
  }

  /** How many of the tenant's integrations use the credential (a credential in use cannot be deleted). */
  async countIntegrationsUsingCredential(tenantId: string, credentialId: string): Promise<number> {
    const [row] = await this.#query(`SELECT COUNT(*) AS n FROM ${this.#s}.integrations WHERE tenant_id = $1 AND credential_id = $2`, [
      tenantId,
      credentialId,
    ]);
    return Number(row?.n ?? 0);
  }

  // Audit.

  /**
   * Chains and inserts the batch in one transaction. Each tenant's head row is created if
   * missing, then locked FOR UPDATE (tenants in sorted order, so nodes never deadlock): a
   * second node appending to the same tenant waits here and then chains onto our last hash.
   */
  async appendAuditEvents(events: AuditEventInput[], hasher: AuditHasher): Promise<AuditEventRecord[]> {
    if (events.length === 0) return [];
    return this.#tx(async (c) => {
      // "Durable before the answer leaves" must hold even if the server default is relaxed.
      await c.query('SET LOCAL synchronous_commit = on');
      const heads = new Map<string, ChainHead>();
      for (const tenantId of batchTenants(events)) {
        await c.query(`INSERT INTO ${this.#s}.audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING`, [
          tenantId,
          GENESIS_HASH,
        ]);
        const { rows } = await c.query<Row>(`SELECT seq, hash FROM ${this.#s}.audit_heads WHERE tenant_id = $1 FOR UPDATE`, [tenantId]);
        const head = rows[0];
        if (!head) throw new QsError('QS_INTERNAL', 'audit head row missing after insert');
        heads.set(tenantId, { seq: Number(head.seq), hash: String(head.hash) });
      }
      const records = chainEvents(events, heads, hasher);
      const col = <K extends keyof AuditEventRecord>(k: K): Array<AuditEventRecord[K] | null> => records.map((r) => r[k] ?? null);
      // One INSERT for the whole batch: unnest zips the column arrays back into rows.
      try {
        await c.query(
          `INSERT INTO ${this.#s}.audit_events (tenant_id, seq, id, ts, integration_id, operation, api_key_id, request_id, route,
             fingerprint, outcome, sqlstate, qs_code, row_count, duration_ms, prev_hash, hash)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
             $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::float8[], $16::text[], $17::text[])`,
          [
            col('tenantId'),
            col('seq'),
            col('id'),
            col('ts'),
            col('integrationId'),
            col('operation'),
            col('apiKeyId'),
            col('requestId'),
            col('route'),
            col('fingerprint'),
            col('outcome'),
            col('sqlstate'),
            col('qsCode'),
            col('rowCount'),
            col('durationMs'),
            col('prevHash'),
            col('hash'),
          ],
        );
      } catch (err) {
        throw mapConstraintError(err, 'audit event');
      }
      for (const [tenantId, head] of heads) {
        await c.query(`UPDATE ${this.#s}.audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1`, [tenantId, head.seq, head.hash]);
      }
      return records;
    });
  }

  /** Events by seq ascending, filtered by integration and afterSeq. */
  async listAuditEvents(tenantId: string, q: AuditQuery): Promise<AuditEventRecord[]> {
    return (
      await this.#query(
        `SELECT * FROM ${this.#s}.audit_events
         WHERE tenant_id = $1 AND ($2::text IS NULL OR integration_id = $2) AND seq > $3
         ORDER BY seq LIMIT $4`,
        [tenantId, q.integrationId ?? null, q.afterSeq ?? 0, q.limit],
      )
    ).map(auditFromRow);
  }

  /** The whole chain in seq order, a page at a time (keyset pagination on seq). */
  readAuditChain(tenantId: string): AsyncIterable<AuditEventRecord> {
    return pageAuditChain(this, tenantId);
  }

  // Token vault.

  /** Stores a random-mode token; QS_CONFLICT if the tenant already has it. */
  async putToken(t: StoredToken): Promise<void> {
    await this.#exec(
      `INSERT INTO ${this.#s}.tokens (tenant_id, token, ciphertext, created_at) VALUES ($1, $2, $3, $4)`,
      [t.tenantId, t.token, toBuffer(t.ciphertext), t.createdAt],
      'token',
    );
  }

  /** The ciphertexts of the tenant's tokens that exist (unknown tokens are absent from the map). */
  async getTokens(tenantId: string, tokens: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    if (tokens.length === 0) return found;
    const rows = await this.#query(`SELECT token, ciphertext FROM ${this.#s}.tokens WHERE tenant_id = $1 AND token = ANY($2::text[])`, [
      tenantId,
      [...new Set(tokens)],
    ]);
    for (const row of rows) found.set(String(row.token), toBytes(row.ciphertext as Uint8Array));
    return found;
  }

  // Changes.

  /** NOTIFYs every node LISTENing on this schema's channel (this one included, if listening). */
  async publishChange(notice: ChangeNotice): Promise<void> {
    await this.#pool.query('SELECT pg_notify($1, $2)', [this.#channel, JSON.stringify({ topic: notice.topic, id: notice.id })]);
  }

  /** Subscribes to change notices from every node; returns the unsubscribe function. */
  onChange(listener: (notice: ChangeNotice) => void): () => void {
    return this.#changes.subscribe(listener);
  }

  /**
   * One statement: the insert wins, or takes over an expired claim, or (a live claim) changes
   * nothing and returns no row. Concurrent claims of one key serialize on its primary key, and the
   * loser sees the winner's live claim. Each win also clears up to 100 expired claims.
   */
  async claimRequest(tenantId: string, key: string, expiresAt: number, now: number): Promise<boolean> {
    const won = await this.#query(
      `INSERT INTO ${this.#s}.request_claims AS c (tenant_id, claim_key, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, claim_key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE c.expires_at <= $4
       RETURNING 1`,
      [tenantId, key, expiresAt, now],
    );
    if (won.length === 0) return false;
    await this.#query(`DELETE FROM ${this.#s}.request_claims WHERE ctid IN (SELECT ctid FROM ${this.#s}.request_claims WHERE expires_at <= $1 LIMIT 100)`, [now]);
    return true;
  }

  /** Runs a trivial query. */
  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  /** Stops listening and ends the pool (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#changes.clear();
    await this.#listener?.close();
    this.#listener = null;
    await this.#pool.end();
  }
}
