import pg from 'pg';
import { QsError } from '../../protocol/errors.js';
import { connectionConfig, parseDsn } from './dsn-config.js';
import { scrubSecrets, toConnectionError } from './errors.js';

/**
 * The vault's login check (DESIGN §6): before a rotated DSN becomes current, log in with it,
 * run `SELECT 1` and look at the role's privileges. The seed asks for a least-privilege user,
 * so powerful roles are accepted but reported as warnings.
 */

/** Result of a successful login with a candidate DSN. */
export interface LoginCheck {
  /** The role the DSN logs in as. */
  role: string;
  /** Human-readable warnings about the role's privileges; empty for a least-privilege role. */
  warnings: string[];
}

interface RoleRow {
  rolname: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolbypassrls: boolean;
}

/**
 * Connects with `dsn` (same TLS rules as the pools), runs `SELECT 1` and inspects the role.
 * Throws QS_DB_AUTH_FAILED / QS_DB_TLS / QS_DB_UNAVAILABLE (or QS_INVALID_DSN) on failure;
 * the messages never contain the DSN.
 */
export async function testLogin(dsn: string, options: { credentialId?: string; timeoutMs?: number } = {}): Promise<LoginCheck> {
  const parsed = parseDsn(dsn);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = new pg.Client({
    ...connectionConfig(parsed, { readOnly: true, statementTimeoutMs: timeoutMs }),
    connectionTimeoutMillis: timeoutMs,
  });
  // A socket error after connect must not become an uncaught 'error' event.
  client.on('error', () => {});
  const ctx = { credentialId: options.credentialId, tls: parsed.tls };
  try {
    await client.connect();
    await client.query('SELECT 1');
    const { rows } = await client.query<RoleRow>(
      'SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user',
    );
    const role = rows[0];
    if (role === undefined) return { role: '', warnings: [] };
    const warnings: string[] = [];
    const name = JSON.stringify(role.rolname);
    if (role.rolsuper) warnings.push(`role ${name} is a superuser; use a dedicated least-privilege role`);
    if (role.rolcreaterole) warnings.push(`role ${name} can create roles (CREATEROLE)`);
    if (role.rolcreatedb) warnings.push(`role ${name} can create databases (CREATEDB)`);
    if (role.rolbypassrls) warnings.push(`role ${name} bypasses row-level security (BYPASSRLS)`);
    return { role: role.rolname, warnings };
  } catch (err) {
    const mapped = toConnectionError(err, ctx);
    if (mapped) throw mapped;
    if (err instanceof QsError) throw err;
    const reason = scrubSecrets(err instanceof Error ? err.message : String(err));
    throw new QsError('QS_CREDENTIAL_CHECK_FAILED', `the login check with the new credential failed: ${reason}`, { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}
