import { DatabaseError } from 'pg-protocol';
import { QsError, isQsError } from '../../protocol/errors.js';
import type { WireError } from '../../protocol/wire.js';

/**
 * Turns whatever running SQL threw into the payload's `error` (DESIGN §5). PostgreSQL's errors
 * stay PostgreSQL's, field for field; failures to reach or log in to the database become stable
 * QS codes with a message that says what to do; nothing carries a DSN or a password.
 */

/** What the caller knows about the connection, to make messages precise. */
export interface ConnectionErrorContext {
  /** The credential in use, named in the rotation hint. */
  credentialId?: string;
  /** True when the connection was asked to use TLS (ECONNRESET is then most likely TLS). */
  tls?: boolean;
}

const DATABASE_ERROR_FIELDS = [
  'severity',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const satisfies ReadonlyArray<keyof DatabaseError & keyof WireError>;

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);
const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /client has encountered a connection error and is not queryable/i,
];

const TLS_MESSAGES = [/does not support SSL/i, /\bSSL\b/, /\bTLS\b/, /certificate/i, /self[- ]signed/i, /hostname\/ip does not match/i];

const AUTH_MESSAGES = [/password authentication failed/i, /\bSASL\b/, /client password must be a string/i];

/**
 * Removes credentials from text pg or Node put in a message: the userinfo of any
 * `postgres://user:pass@` URL and `password=…` key/value pairs.
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(/(postgres(?:ql)?:\/\/)[^@/\s]*@/gi, '$1***@')
    .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***');
}

/** A pg-protocol DatabaseError, also when another copy of pg-protocol made it. */
export function isDatabaseError(err: unknown): err is DatabaseError {
  if (err instanceof DatabaseError) return true;
  if (!(err instanceof Error)) return false;
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string';
}

function errCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect (localhost → ::1 and 127.0.0.1) throws an AggregateError.
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) return inner.map(errCode).find((c) => c !== undefined);
  return undefined;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function authFailed(ctx: ConnectionErrorContext, reason: string, cause: unknown): QsError {
  const id = ctx.credentialId ?? '{credential_id}';
  return new QsError(
    'QS_DB_AUTH_FAILED',
    `PostgreSQL refused the sealed credential (${reason}); rotate the credential via POST /api/v2/vault/rotate/${id}`,
    { cause },
  );
}

function tlsFailed(reason: string, cause: unknown): QsError {
  return new QsError(
    'QS_DB_TLS',
    `TLS connection to PostgreSQL failed (${reason}); use sslmode=require only when the server supports TLS ` +
      '(server certificates are always verified when TLS is on), or sslmode=disable on a trusted network',
    { cause },
  );
}

/**
 * Recognises a failure to reach or log in to PostgreSQL and returns the matching QsError
 * (QS_DB_AUTH_FAILED, QS_DB_TLS, QS_DB_UNAVAILABLE), or null for anything else (an ordinary
 * SQL error stays a DatabaseError).
 */
export function toConnectionError(err: unknown, ctx: ConnectionErrorContext = {}): QsError | null {
  if (isQsError(err)) return null;
  const message = scrubSecrets(errMessage(err));
  if (isDatabaseError(err)) {
    if (err.code === '28P01') return authFailed(ctx, message, err);
    if (err.code === '28000') {
      // pg_hba.conf refusing a non-TLS connection is a TLS problem, not a bad password.
      if (/no encryption/i.test(message)) return tlsFailed(message, err);
      return authFailed(ctx, message, err);
    }
    return null;
  }
  const code = errCode(err);
  if (AUTH_MESSAGES.some((re) => re.test(message))) return authFailed(ctx, message, err);
  if (
    (code !== undefined && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code === 'EPROTO')) ||
    TLS_MESSAGES.some((re) => re.test(message)) ||
    (ctx.tls === true && code === 'ECONNRESET')
  ) {
    return tlsFailed(message, err);
  }
  if ((code !== undefined && UNAVAILABLE_CODES.has(code)) || code === 'ECONNRESET' || UNAVAILABLE_MESSAGES.some((re) => re.test(message))) {
    return new QsError('QS_DB_UNAVAILABLE', `PostgreSQL is unreachable (${code ?? message}); check the host and port of the sealed DSN and that the server is up`, {
      cause: err,
    });
  }
  return null;
}

/**
 * The WireError for any thrown value: every DatabaseError field kept (secrets scrubbed),
 * connection failures mapped to QS codes, a QsError as `{code: sqlstate, message, qs_code}`,
 * anything else QS_INTERNAL with a generic message (details belong in the server log).
 */
export function toWireError(err: unknown, ctx: ConnectionErrorContext = {}): WireError {
  const mapped = isQsError(err) ? err : toConnectionError(err, ctx);
  if (mapped) return { code: mapped.sqlstate, message: scrubSecrets(mapped.message), ...mapped.pgFields, qs_code: mapped.code };
  if (isDatabaseError(err)) {
    const out: WireError = { code: err.code ?? 'XX000', message: scrubSecrets(err.message) };
    for (const field of DATABASE_ERROR_FIELDS) {
      const value = err[field];
      if (value !== undefined) out[field] = scrubSecrets(value);
    }
    return out;
  }
  const internal = new QsError('QS_INTERNAL', 'internal error while executing the statement');
  return { code: internal.sqlstate, message: internal.message, qs_code: internal.code };
}
