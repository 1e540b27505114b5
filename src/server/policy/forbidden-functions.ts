/**
 * Functions refused anywhere in a statement, because calling them would bypass the statement
 * policy (set_config can do what SET ROLE does), reach outside the database (files, large-object
 * import/export, dblink) or act on other sessions. Matched on the unqualified, lower-cased name
 * so `pg_catalog.set_config` is caught too. Privileges on the database side are the first wall;
 * this list is the second, for a DSN that was given more rights than it should have.
 */
export const FORBIDDEN_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['set_config', 'set_config() changes settings outside the SET policy (e.g. role)'],
  ['pg_terminate_backend', 'pg_terminate_backend() acts on other sessions'],
  ['pg_cancel_backend', 'pg_cancel_backend() acts on other sessions'],
  ['pg_reload_conf', 'pg_reload_conf() acts on the server configuration'],
  ['pg_rotate_logfile', 'pg_rotate_logfile() acts on the server'],
  ['pg_read_file', 'pg_read_file() reads server files'],
  ['pg_read_binary_file', 'pg_read_binary_file() reads server files'],
  ['pg_ls_dir', 'pg_ls_dir() lists server directories'],
  ['pg_stat_file', 'pg_stat_file() inspects server files'],
  ['lo_import', 'lo_import() reads server files'],
  ['lo_export', 'lo_export() writes server files'],
  ['dblink', 'dblink() connects to other databases'],
  ['dblink_exec', 'dblink_exec() connects to other databases'],
  ['dblink_connect', 'dblink_connect() connects to other databases'],
  ['dblink_connect_u', 'dblink_connect_u() connects to other databases'],
]);

/**
 * Session-level advisory locks: held until unlocked or the connection closes, so on a sessionless
 * request they would stay with the pooled connection after the request. Allowed on a session
 * only; the transaction-level `pg_advisory_xact_lock*` forms need no such care.
 */
export const SESSION_LOCK_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
]);
