import type { Operation } from '../protocol/wire.js';
import type { SqlHint } from './sql-operation-hint.js';

/**
 * Statements a checked-out client may run without a server session: plain reads and writes that
 * leave nothing behind on the connection once they finish (each runs in its own implicit
 * transaction on whichever pooled connection the proxy picks).
 */
const SESSIONLESS_VERBS = new Set(['SELECT', 'VALUES', 'TABLE', 'WITH', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'SHOW', 'EXPLAIN']);

/**
 * Anything that mentions connection state: row and advisory locks, LISTEN/NOTIFY, prepared
 * statements, set_config, temp objects, sequence state read back later (currval/lastval), the
 * backend pid, cursors, dblink. Matched anywhere in the text, strings and comments included, with
 * `_` counted as a separator (so `pg_advisory_lock` and `temp_x` match): a false positive only
 * costs a session, a false negative would split state across connections.
 */
const STATEFUL =
  /(?<![a-z0-9])(?:advisory|for\s+(?:no\s+key\s+)?update|for\s+(?:key\s+)?share|nowait|skip\s+locked|lock|listen|unlisten|notify|prepare|execute|deallocate|set_config|temp|temporary|currval|lastval|setval|backend_pid|cursor|dblink|begin|commit|rollback|savepoint)(?![a-z0-9])/i;

/** First keyword after leading whitespace, comments and opening parentheses. */
const LEADING_WORD = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*([A-Za-z_]+)/;

/**
 * Whether a statement on a checked-out client needs a connection of its own (DESIGN §1): such a
 * client runs sessionless until the first statement that does, then stays on that session until
 * release. True for every `transaction` and `ddl` hint (BEGIN, SET, SAVEPOINT, temp tables…), for
 * several statements in one string, for verbs outside the plain read/write set, and for any text
 * that mentions connection state (see STATEFUL). When in doubt it answers true.
 */
export function needsSession(sql: string, hint: SqlHint): boolean {
  if (hint.multiStatement || hint.operation === 'transaction' || hint.operation === 'ddl') return true;
  if (hint.operation !== 'query' && hint.operation !== 'execute') return true;
  const verb = LEADING_WORD.exec(sql)?.[1]?.toUpperCase();
  if (verb === undefined || !SESSIONLESS_VERBS.has(verb)) return true;
  return STATEFUL.test(sql);
}

/**
 * Whether a sessionless attempt was refused in a way that a session would have accepted, before
 * anything ran: the proxy's policy asks for a session (locking or session-scoped statements, or a
 * statement of another kind than the hint guessed, which a session checks under its own kind),
 * or the read-only pool refused a write hidden in a SELECT (SQLSTATE 25006, e.g. a function that
 * inserts). Such a statement is sent again on a new session.
 */
export function retryInSession(error: { code?: string; qs_code?: string }, operation: Operation): boolean {
  if (error.qs_code === 'QS_OPERATION_MISMATCH') return true;
  // Only a read goes to the read-only pool; elsewhere 25006 (a standby) would just fail again.
  return operation === 'query' && error.qs_code === undefined && error.code === '25006';
}
