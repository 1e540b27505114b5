/**
 * Function-level rules of the statement policy, in one place. The statement kind says what a
 * statement is; these say which calls inside it are refused (or change its kind) whatever it is,
 * because a call can do what the statement policy forbids: run a query string the policy never
 * parses (query_to_xml), change settings past the SET policy (set_config, which can set `role`),
 * reach outside the database (files, large objects, dblink), or act on other sessions and the
 * server. Privileges on the database side are the first wall; these rules are the second, for a
 * DSN that was given more rights than it should have.
 *
 * Names are matched on the function's own name (the last part of a qualified name, so
 * `pg_catalog.query_to_xml` is caught), lower-cased (so a quoted `"QUERY_TO_XML"` is caught too,
 * which over-refuses a user function of that exact spelling: acceptable), and mostly by prefix
 * or pattern, so that a variant PostgreSQL or an extension adds later (`table_to_xml_and_…`,
 * `pg_ls_…dir`, `dblink_…`) is refused without anyone remembering to list it.
 */

/** One rule: a name (exact) or pattern, why calls to it are refused, and optionally which arities. */
interface FunctionRule {
  readonly match: string | RegExp;
  readonly reason: string;
  /** Refuse only calls with this many arguments (overloads that differ in what they do). */
  readonly argCount?: number;
}

const RUNS_SQL = 'runs a query given as text (or a cursor, or whole tables) that the statement policy never sees';
const FILES = 'reads or writes files on the database server';
const SERVER = 'acts on the server or on other sessions, not on the app\'s data';
const REPLICATION = 'is replication administration (a slot also retains WAL on the server)';

/**
 * Functions refused anywhere in any statement, under every operation. Each `reason` follows the
 * function's name in the error (`query_to_xml() runs a query given as text …`).
 *
 * Deliberately NOT here:
 * - `pg_sleep`, `pg_sleep_for`, `pg_sleep_until`: they only spend the request's own time, which
 *   `statement_timeout` bounds (a cross join can burn the same time), and sessions are capped
 *   per integration; refusing them would break test suites and retry helpers for no gain.
 * - `pg_advisory_xact_lock*`: released at the end of the transaction (the session-level forms
 *   are session-only, see {@link isSessionStateFunction}).
 * - `setval`: a write, not a bypass; see {@link WRITE_FUNCTIONS}.
 */
export const FORBIDDEN_FUNCTION_RULES: readonly FunctionRule[] = [
  // Functions that execute SQL passed as a string: the inner SQL (set_config('role', …),
  // pg_read_file, advisory locks, search_path) would run with no check, and the string can come
  // from a parameter or format(), so only refusing the function closes it.
  { match: /^(query|table|schema|database|cursor)_to_xml/, reason: RUNS_SQL },
  { match: 'ts_stat', reason: RUNS_SQL },
  { match: 'ts_rewrite', argCount: 2, reason: `with two arguments ${RUNS_SQL}` },
  { match: /^dblink/, reason: 'connects to other databases and runs SQL there' },
  { match: /^pg_background_/, reason: `${RUNS_SQL}, in a background worker` },

  // Settings outside the SET policy.
  { match: 'set_config', reason: 'changes settings outside the SET policy (e.g. role, search_path), and the change can outlive the request on a pooled connection' },

  // Notifications are not proxied (LISTEN/NOTIFY are refused as statements too).
  { match: 'pg_notify', reason: 'sends notifications, which are not proxied' },

  // Large objects: lo_import/lo_export touch server files, and the rest store data outside any
  // table, where neither the operation policy nor tokenization sees it.
  { match: /^lo_/, reason: `is a large-object function: large objects keep data outside tables (and lo_import/lo_export ${FILES})` },
  { match: /^lo(read|write)$/, reason: 'is a large-object function: large objects keep data outside tables' },

  // Server files (core and adminpack).
  { match: /^pg_ls_/, reason: 'lists server directories' },
  { match: /^pg_read_/, reason: FILES },
  { match: 'pg_stat_file', reason: 'inspects server files' },
  { match: /^pg_file_/, reason: FILES },
  { match: 'pg_logdir_ls', reason: 'lists the server log directory' },

  // Other sessions and the server itself.
  { match: /^pg_(signal|terminate|cancel)_backend$/, reason: SERVER },
  { match: 'pg_log_backend_memory_contexts', reason: SERVER },
  { match: 'pg_reload_conf', reason: SERVER },
  { match: /^pg_rotate_logfile/, reason: SERVER },
  { match: 'pg_promote', reason: SERVER },
  { match: 'pg_switch_wal', reason: SERVER },
  { match: /^pg_wal_replay_/, reason: SERVER },
  { match: 'pg_create_restore_point', reason: SERVER },
  { match: /^pg_(start|stop)_backup$/, reason: SERVER },
  { match: /^pg_backup_(start|stop)$/, reason: SERVER },
  { match: /^pg_stat_reset/, reason: 'resets statistics for every user of the server' },
  { match: /^pg_stat_statements_reset/, reason: 'resets statistics for every user of the server' },
  { match: 'pg_import_system_collations', reason: 'creates catalog objects (DDL outside the ddl operation)' },

  // Replication.
  { match: /^pg_.*replication_slot/, reason: REPLICATION },
  { match: /^pg_replication_origin_/, reason: REPLICATION },
  { match: /^pg_logical_/, reason: `${REPLICATION}; pg_logical_emit_message() writes into the WAL stream` },
];

/**
 * Why a call to `name` with `argCount` arguments is refused, or undefined when it is not.
 *
 * @param name the function's own name, any case (the caller drops the schema).
 */
export function forbiddenFunctionReason(name: string, argCount: number): string | undefined {
  const lower = name.toLowerCase();
  for (const rule of FORBIDDEN_FUNCTION_RULES) {
    if (rule.argCount !== undefined && rule.argCount !== argCount) continue;
    const hit = typeof rule.match === 'string' ? rule.match === lower : rule.match.test(lower);
    if (hit) return `${lower}() ${rule.reason}`;
  }
  return undefined;
}

/**
 * Calls whose effect outlives the statement and the transaction, so on a sessionless request they
 * would stay with the pooled connection for its next user: session-level advisory locks (held
 * until unlocked or the connection closes; the unlock forms are listed too, as they only make sense
 * where the lock was taken) and `setseed` (the session's random() sequence). Allowed on a session
 * only; the transaction-level `pg_advisory_xact_lock*` forms need no such care.
 */
export function isSessionStateFunction(name: string): boolean {
  const lower = name.toLowerCase();
  return /^pg_(try_)?advisory_(lock|unlock)/.test(lower) || lower === 'setseed';
}

/**
 * Functions that write, so a SELECT calling them is a write: classified `execute`, it needs the
 * `execute` permission. `setval` can move a sequence backwards (duplicate keys for every later
 * insert), which a read-only integration must not do; on a read-only connection PostgreSQL refuses
 * it too, but on a session an integration's statements should not lean on which pool it got.
 * `nextval` is left a read: every INSERT with a serial default calls it, it cannot break anything,
 * and the read-only wall still stops it for integrations that may not write.
 */
export const WRITE_FUNCTIONS: ReadonlySet<string> = new Set(['setval']);
