/**
 * The run-time settings an app may SET/RESET/SHOW through the proxy (DESIGN §1). They change how
 * the app's own statements behave, never who runs them or what they may touch: no role, no
 * authorization, no read-only switch, no library loading. Names are compared lower-cased, as
 * PostgreSQL looks up GUC names case-insensitively.
 */
export const SAFE_SETTINGS: ReadonlySet<string> = new Set([
  'search_path',
  'timezone',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'application_name',
  'datestyle',
  'intervalstyle',
  'client_encoding',
  'transaction_isolation',
  'default_transaction_isolation',
  'extra_float_digits',
]);

/**
 * Settings that may be read with SHOW but not changed: drivers and ORMs probe them (server
 * version checks, string escaping) and they reveal nothing an app should not know.
 */
export const SHOW_ONLY_SETTINGS: ReadonlySet<string> = new Set([
  'server_version',
  'server_version_num',
  'standard_conforming_strings',
  'transaction_read_only',
  'default_transaction_read_only',
  'integer_datetimes',
  'max_identifier_length',
]);

/**
 * client_encoding values accepted: the proxy's own connection decodes results as UTF-8, so any
 * other encoding would corrupt every later result on the session.
 */
export const SAFE_CLIENT_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode']);
