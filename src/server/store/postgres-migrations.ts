import type { Migration } from './migration.js';

/**
 * The PostgreSQL schema, step by step. Statements are unqualified: the migrator runs them with
 * `SET LOCAL search_path` to the store's schema. Timestamps are text holding the caller's ISO
 * string verbatim, because audit hashes cover `ts` and timestamptz would re-format it.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE tenants (
  id text PRIMARY KEY,
  name text NOT NULL,
  created_at text NOT NULL
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at text NOT NULL,
  revoked_at text
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE signing_keys (
  key_id text PRIMARY KEY,
  public_key bytea NOT NULL,
  wrapped_secret bytea NOT NULL,
  created_at text NOT NULL,
  active boolean NOT NULL
);
-- At most one active key: with INSERT … ON CONFLICT DO NOTHING, the first node to start wins.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(active) WHERE active;

CREATE TABLE tenant_keys (
  tenant_id text NOT NULL,
  purpose text NOT NULL CHECK (purpose IN ('vault', 'token')),
  key_id text NOT NULL,
  public_key bytea,
  wrapped_secret bytea NOT NULL,
  created_at text NOT NULL,
  PRIMARY KEY (tenant_id, purpose)
);

CREATE TABLE recipient_keys (
  tenant_id text NOT NULL,
  key_id text NOT NULL,
  public_key bytea NOT NULL,
  created_at text NOT NULL,
  revoked_at text,
  PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE credentials (
  id text NOT NULL,
  version integer NOT NULL,
  tenant_id text NOT NULL,
  name text,
  credential_type text NOT NULL,
  status text NOT NULL CHECK (status IN ('current', 'pending', 'retired')),
  sealed bytea NOT NULL,
  created_at text NOT NULL,
  deleted_at text,
  PRIMARY KEY (id, version)
);
CREATE INDEX credentials_tenant ON credentials(tenant_id, id);

CREATE TABLE integrations (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  name text,
  system_type text NOT NULL,
  credential_id text NOT NULL,
  allowed_operations jsonb NOT NULL,
  tokenization jsonb NOT NULL,
  limits jsonb NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX integrations_tenant ON integrations(tenant_id);
CREATE INDEX integrations_credential ON integrations(tenant_id, credential_id);

-- One row per tenant, locked FOR UPDATE while appending: the serialization point of a chain.
CREATE TABLE audit_heads (
  tenant_id text PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL
);

CREATE TABLE audit_events (
  tenant_id text NOT NULL,
  seq bigint NOT NULL,
  id text NOT NULL UNIQUE,
  ts text NOT NULL,
  integration_id text,
  operation text,
  api_key_id text,
  request_id text,
  route text NOT NULL,
  fingerprint text,
  outcome text NOT NULL,
  sqlstate text,
  qs_code text,
  row_count bigint,
  duration_ms double precision NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_integration ON audit_events(tenant_id, integration_id, seq);

CREATE TABLE tokens (
  tenant_id text NOT NULL,
  token text NOT NULL,
  ciphertext bytea NOT NULL,
  created_at text NOT NULL,
  PRIMARY KEY (tenant_id, token)
);
`,
  },
  {
    version: 2,
    name: 'request claims',
    sql: `
CREATE TABLE request_claims (
  tenant_id text NOT NULL,
  claim_key text NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, claim_key)
);
CREATE INDEX request_claims_expiry ON request_claims(expires_at);
`,
  },
];
