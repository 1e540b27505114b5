import type { Migration } from './migration.js';

/**
 * The SQLite schema, step by step. Timestamps are TEXT holding the caller's ISO string verbatim:
 * audit hashes cover `ts`, so it must read back byte-for-byte as written.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE signing_keys (
  key_id TEXT PRIMARY KEY,
  public_key BLOB NOT NULL,
  wrapped_secret BLOB NOT NULL,
  created_at TEXT NOT NULL,
  active INTEGER NOT NULL CHECK (active IN (0, 1))
);
-- At most one active key: this is what makes ensureSigningKey "first writer wins".
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(active) WHERE active = 1;

CREATE TABLE tenant_keys (
  tenant_id TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('vault', 'token')),
  key_id TEXT NOT NULL,
  public_key BLOB,
  wrapped_secret BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, purpose)
);

CREATE TABLE recipient_keys (
  tenant_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key BLOB NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE credentials (
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  tenant_id TEXT NOT NULL,
  name TEXT,
  credential_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('current', 'pending', 'retired')),
  sealed BLOB NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT,
  PRIMARY KEY (id, version)
);
CREATE INDEX credentials_tenant ON credentials(tenant_id, id);

CREATE TABLE integrations (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT,
  system_type TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  allowed_operations TEXT NOT NULL,
  tokenization TEXT NOT NULL,
  limits TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX integrations_tenant ON integrations(tenant_id);
CREATE INDEX integrations_credential ON integrations(tenant_id, credential_id);

CREATE TABLE audit_heads (
  tenant_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);

CREATE TABLE audit_events (
  tenant_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  ts TEXT NOT NULL,
  integration_id TEXT,
  operation TEXT,
  api_key_id TEXT,
  request_id TEXT,
  route TEXT NOT NULL,
  fingerprint TEXT,
  outcome TEXT NOT NULL,
  sqlstate TEXT,
  qs_code TEXT,
  row_count INTEGER,
  duration_ms REAL NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_integration ON audit_events(tenant_id, integration_id, seq);

CREATE TABLE tokens (
  tenant_id TEXT NOT NULL,
  token TEXT NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, token)
);
`,
  },
];
