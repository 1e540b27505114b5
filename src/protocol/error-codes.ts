/**
 * Every stable error code QuantaSeal emits, in one registry. Codes never change meaning once
 * released; the README's error table is checked against this object by a test.
 *
 * `status` is the HTTP status when the error is answered in plain JSON (before the tenant is
 * known) or the status a control-plane route uses. `sqlstate` is what the driver puts in
 * `DatabaseError.code` for errors that reach an application through a pg-shaped API, so ORMs
 * see an ordinary PostgreSQL error class.
 */
export const ERROR_CODES = {
  // Request shape and transport (plain JSON answers).
  QS_MALFORMED_JSON: { status: 400, sqlstate: '08P01', description: 'The request body is not valid JSON.' },
  QS_INVALID_REQUEST: { status: 400, sqlstate: '08P01', description: 'The request does not match the route schema (wrong types, missing or unknown fields).' },
  QS_UNSUPPORTED_MEDIA_TYPE: { status: 415, sqlstate: '08P01', description: 'The request body is not application/json.' },
  QS_BODY_TOO_LARGE: { status: 413, sqlstate: '54000', description: 'The request body exceeds the configured limit.' },
  QS_UNAUTHENTICATED: { status: 401, sqlstate: '28000', description: 'The API key is missing, unknown or revoked.' },
  QS_ADMIN_UNAUTHORIZED: { status: 401, sqlstate: '28000', description: 'The admin token is missing or wrong.' },
  QS_NOT_FOUND: { status: 404, sqlstate: '42704', description: 'No such resource for this tenant.' },
  QS_RATE_LIMITED: { status: 429, sqlstate: '53300', description: 'Too many requests.' },
  QS_INTERNAL: { status: 500, sqlstate: 'XX000', description: 'An unexpected server error; details are in the server log under the request id.' },
  QS_UNAVAILABLE: { status: 503, sqlstate: '57P03', description: 'The server is starting or shutting down.' },

  // Control plane.
  QS_INVALID_DSN: { status: 400, sqlstate: '08P01', description: 'The DSN is not a postgres:// or postgresql:// URL.' },
  QS_UNKNOWN_OPERATION: { status: 400, sqlstate: '42501', description: 'allowed_operations names an operation that does not exist.' },
  QS_CREDENTIAL_CHECK_FAILED: { status: 422, sqlstate: '28P01', description: 'A login with the new credential failed; the current version stays in use.' },
  QS_TOKENIZATION_CONFIG: { status: 400, sqlstate: '42703', description: 'A tokenization field does not name an existing text column.' },
  QS_CONFLICT: { status: 409, sqlstate: '23505', description: 'The resource already exists or is in use.' },
  QS_KMS_FAILURE: { status: 503, sqlstate: '58000', description: 'The KMS could not wrap or unwrap key material (wrong or unreachable master key).' },

  // Data plane (inside the envelope's payload).
  QS_OPERATION_DENIED: { status: 403, sqlstate: '42501', description: "The integration's allowed_operations do not include this operation." },
  QS_OPERATION_MISMATCH: { status: 400, sqlstate: '42501', description: 'The statement is not of the kind the request names (e.g. a DELETE sent as query).' },
  QS_MULTI_STATEMENT: { status: 400, sqlstate: '42501', description: 'More than one statement in a string where exactly one is allowed.' },
  QS_SQL_SYNTAX: { status: 400, sqlstate: '42601', description: 'The PostgreSQL parser rejected the statement.' },
  QS_STATEMENT_NOT_ALLOWED: { status: 403, sqlstate: '42501', description: 'A statement kind that no operation allows (COPY, DO, SET ROLE, LISTEN, …).' },
  QS_TOKENIZATION_UNSUPPORTED: { status: 400, sqlstate: '0A000', description: 'A tokenized column is used in a way that cannot be tokenized safely.' },
  QS_TOKEN_UNKNOWN: { status: 500, sqlstate: '22023', description: 'A stored token could not be detokenized.' },
  QS_SESSION_NOT_FOUND: { status: 404, sqlstate: '08003', description: 'The session does not exist, expired or belongs to another integration.' },
  QS_SESSION_LIMIT: { status: 429, sqlstate: '53300', description: "The integration's session cap is reached." },
  QS_MAX_ROWS: { status: 400, sqlstate: '54000', description: "The result exceeds the integration's max_rows limit." },
  QS_RESULT_TOO_LARGE: { status: 413, sqlstate: '54000', description: "The result's rows exceed the largest answer the proxy sends (512 MiB of JSON); select fewer rows or columns." },
  QS_PIPELINE_ANSWER_TOO_LARGE: {
    status: 413,
    sqlstate: '54000',
    description: "An answer that ran on a read-only connection was left out of a pipeline whose answers together exceed the proxy's pipeline answer limit; the driver runs the call again alone.",
  },
  QS_ALREADY_RUN: {
    status: 409,
    sqlstate: '40003',
    description: 'The same request, byte for byte, already ran a SELECT that writes (rerun on the write pool); a retried read is not run twice, and its first outcome is unknown to the driver.',
  },
  QS_DB_AUTH_FAILED: { status: 502, sqlstate: '28P01', description: 'PostgreSQL refused the sealed credential; rotate it via POST /api/v2/vault/rotate/{credential_id}.' },
  QS_DB_TLS: { status: 502, sqlstate: '08006', description: 'The TLS connection to PostgreSQL failed; check sslmode=require and the server certificate.' },
  QS_DB_UNAVAILABLE: { status: 503, sqlstate: '08001', description: 'PostgreSQL is unreachable.' },

  // Client side.
  QS_ENVELOPE_INVALID: { status: 502, sqlstate: '08P01', description: 'The response envelope failed verification or decryption.' },
  QS_CONFIG: { status: 400, sqlstate: '08P01', description: 'The driver or CLI configuration is incomplete or inconsistent.' },
  QS_TRANSPORT: { status: 503, sqlstate: '08006', description: 'The proxy could not be reached or the connection broke.' },
  QS_TIMEOUT: { status: 504, sqlstate: '57014', description: 'The query did not finish within query_timeout.' },
  QS_CLIENT_CLOSED: { status: 400, sqlstate: '08003', description: 'The client was ended or released.' },
} as const satisfies Record<string, { status: number; sqlstate: string; description: string }>;

export type QsErrorCode = keyof typeof ERROR_CODES;

export function isQsErrorCode(code: unknown): code is QsErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
