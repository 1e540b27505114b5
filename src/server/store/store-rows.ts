import { toBytes } from './store-errors.js';
import type {
  ApiKeyRecord,
  AuditEventRecord,
  CredentialRecord,
  CredentialStatus,
  IntegrationRecord,
  RecipientKeyRecord,
  SigningKeyRecord,
  TenantKeyRecord,
  TenantRecord,
} from './store.js';

/**
 * Row → record mapping shared by both stores. Columns are snake_case in both schemas; the
 * drivers differ only in a few representations, which the helpers absorb: SQLite booleans are
 * 0/1 and JSON is text, PostgreSQL int8 arrives as a string and jsonb as parsed values.
 */
export type Row = Record<string, unknown>;

function str(v: unknown): string {
  return String(v);
}

function strOrNull(v: unknown): string | null {
  return v == null ? null : String(v);
}

function json(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

export function tenantFromRow(r: Row): TenantRecord {
  return { id: str(r.id), name: str(r.name), createdAt: str(r.created_at) };
}

export function apiKeyFromRow(r: Row): ApiKeyRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    keyHash: str(r.key_hash),
    prefix: str(r.prefix),
    createdAt: str(r.created_at),
    revokedAt: strOrNull(r.revoked_at),
  };
}

export function signingKeyFromRow(r: Row): SigningKeyRecord {
  return {
    keyId: str(r.key_id),
    publicKey: toBytes(r.public_key as Uint8Array),
    wrappedSecret: toBytes(r.wrapped_secret as Uint8Array),
    createdAt: str(r.created_at),
    active: r.active === true || Number(r.active) === 1,
  };
}

export function tenantKeyFromRow(r: Row): TenantKeyRecord {
  return {
    tenantId: str(r.tenant_id),
    purpose: str(r.purpose) as TenantKeyRecord['purpose'],
    keyId: str(r.key_id),
    publicKey: r.public_key == null ? null : toBytes(r.public_key as Uint8Array),
    wrappedSecret: toBytes(r.wrapped_secret as Uint8Array),
    createdAt: str(r.created_at),
  };
}

export function recipientKeyFromRow(r: Row): RecipientKeyRecord {
  return {
    tenantId: str(r.tenant_id),
    keyId: str(r.key_id),
    publicKey: toBytes(r.public_key as Uint8Array),
    createdAt: str(r.created_at),
    revokedAt: strOrNull(r.revoked_at),
  };
}

export function credentialFromRow(r: Row): CredentialRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    version: Number(r.version),
    name: strOrNull(r.name),
    credentialType: str(r.credential_type) as CredentialRecord['credentialType'],
    status: str(r.status) as CredentialStatus,
    sealed: toBytes(r.sealed as Uint8Array),
    createdAt: str(r.created_at),
    deletedAt: strOrNull(r.deleted_at),
  };
}

export function integrationFromRow(r: Row): IntegrationRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    name: strOrNull(r.name),
    systemType: str(r.system_type) as IntegrationRecord['systemType'],
    credentialId: str(r.credential_id),
    allowedOperations: json(r.allowed_operations) as string[],
    tokenization: json(r.tokenization) as IntegrationRecord['tokenization'],
    limits: json(r.limits) as IntegrationRecord['limits'],
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
  };
}

export function auditFromRow(r: Row): AuditEventRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    ts: str(r.ts),
    integrationId: strOrNull(r.integration_id),
    operation: strOrNull(r.operation),
    apiKeyId: strOrNull(r.api_key_id),
    requestId: strOrNull(r.request_id),
    route: str(r.route),
    fingerprint: strOrNull(r.fingerprint),
    outcome: str(r.outcome) as AuditEventRecord['outcome'],
    sqlstate: strOrNull(r.sqlstate),
    qsCode: strOrNull(r.qs_code),
    rowCount: r.row_count == null ? null : Number(r.row_count),
    durationMs: Number(r.duration_ms),
    seq: Number(r.seq),
    prevHash: str(r.prev_hash),
    hash: str(r.hash),
  };
}
