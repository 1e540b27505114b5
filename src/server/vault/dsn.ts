import { QsError } from '../../protocol/errors.js';

const MAX_DSN_LENGTH = 4096;

/**
 * Checks that a DSN is a postgres:// or postgresql:// URL with a host. The DSN itself never
 * appears in the error: it usually holds a password.
 */
export function validateDsn(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_DSN_LENGTH) {
    throw new QsError('QS_INVALID_DSN', 'values.dsn must be a postgres:// URL');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new QsError('QS_INVALID_DSN', 'values.dsn is not a valid URL (expected postgres://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new QsError('QS_INVALID_DSN', `values.dsn must use the postgres:// or postgresql:// scheme, not ${url.protocol.replace(/:$/, '')}://`);
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw new QsError('QS_INVALID_DSN', 'values.dsn has no host');
  }
  return value;
}

/** The DSN with its password replaced, for the rare place a person needs to see which one it is. */
export function redactDsn(dsn: string): string {
  try {
    const url = new URL(dsn);
    if (url.password) url.password = '***';
    for (const k of ['password', 'sslpassword']) if (url.searchParams.has(k)) url.searchParams.set(k, '***');
    return url.toString();
  } catch {
    return '(unparseable DSN)';
  }
}
