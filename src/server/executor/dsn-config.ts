import type { PoolConfig } from 'pg';
import { QsError } from '../../protocol/errors.js';

/**
 * Turns a sealed DSN into a pg connection config the proxy controls.
 *
 * pg lets every `?key=value` of a connection string override the explicit config
 * (`Object.assign(config, parse(connectionString))`), so a DSN could switch off the read-only
 * wall, the statement timeout or certificate checks, or make pg read files from this server's
 * disk (`sslrootcert=/…`). We therefore keep only connection-addressing parameters and set the
 * rest ourselves.
 */

/** Query parameters a DSN may carry through to pg unchanged. */
const PASS_THROUGH = new Set([
  'host',
  'port',
  'user',
  'password',
  'db',
  'dbname',
  'encoding',
  'client_encoding',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'keepalives',
  'keepalives_idle',
]);

/** sslmode values that mean "no TLS"; everything else means TLS with a verified certificate. */
const NO_TLS_MODES = new Set(['disable']);

/** The parts of a DSN the pool manager needs, without anything that could weaken our settings. */
export interface DsnConfig {
  /** The DSN minus the parameters we control. Secret: never log it. */
  connectionString: string;
  /** True when the DSN asks for TLS; certificates are then always verified. */
  tls: boolean;
  /** Startup `options` the DSN carried (e.g. Neon's `endpoint=…`), kept and put before ours. */
  options: string | undefined;
}

/** Splits a DSN into what pg may see and what we take over. Throws QS_INVALID_DSN. */
export function parseDsn(dsn: string): DsnConfig {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw new QsError('QS_INVALID_DSN', 'the sealed DSN is not a valid postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new QsError('QS_INVALID_DSN', 'the sealed DSN is not a postgres:// or postgresql:// URL');
  }
  const sslmode = url.searchParams.get('sslmode') ?? (url.searchParams.get('ssl') === 'true' ? 'require' : null);
  const options = url.searchParams.get('options') ?? undefined;
  for (const key of [...url.searchParams.keys()]) {
    if (!PASS_THROUGH.has(key)) url.searchParams.delete(key);
  }
  return { connectionString: url.toString(), tls: sslmode != null && !NO_TLS_MODES.has(sslmode), options };
}

/** Settings applied to every connection of one pool. */
export interface ConnectionSettings {
  readOnly: boolean;
  statementTimeoutMs: number | undefined;
}

/** pg config for one pool (or one test login) built from a parsed DSN. */
export function connectionConfig(parsed: DsnConfig, settings: ConnectionSettings): PoolConfig {
  // Startup options are applied in order, so ours come last and win over the DSN's.
  const options = [parsed.options, settings.readOnly ? '-c default_transaction_read_only=on' : undefined]
    .filter((o): o is string => o !== undefined && o !== '')
    .join(' ');
  const config: PoolConfig = {
    connectionString: parsed.connectionString,
    application_name: 'quantaseal',
    // Verification is not optional: sslmode=require means verify-full here, as in pg >= 8.
    ssl: parsed.tls ? { rejectUnauthorized: true } : false,
  };
  if (options !== '') config.options = options;
  if (settings.statementTimeoutMs !== undefined && settings.statementTimeoutMs > 0) {
    config.statement_timeout = settings.statementTimeoutMs;
  }
  return config;
}
