import type { Node } from 'libpg-query';
import { asNode, list, someNode, str, strings, unwrap } from './ast-nodes.js';
import type { AstFields } from './ast-nodes.js';
import { FORBIDDEN_FUNCTIONS, SESSION_LOCK_FUNCTIONS } from './forbidden-functions.js';
import { SAFE_CLIENT_ENCODINGS, SAFE_SETTINGS, SHOW_ONLY_SETTINGS } from './safe-settings.js';
import { DDL_STATEMENTS, FORBIDDEN_STATEMENTS, TRUSTED_LANGUAGES } from './statement-types.js';

/** What a statement is, for the operation policy (DESIGN §4). */
export type StatementKind = 'query' | 'execute' | 'transaction' | 'session_setting' | 'ddl' | 'forbidden';

/** The classification of one statement. */
export interface Classification {
  readonly kind: StatementKind;
  /** Human-readable name of the statement (`SELECT`, `SET search_path`, `BEGIN`, …). */
  readonly detail: string;
  /** Why a `forbidden` statement is refused. */
  readonly reason?: string;
  /** Takes row or table locks (SELECT … FOR UPDATE/SHARE, LOCK): meaningful only in a transaction. */
  readonly locking: boolean;
  /** A WITH clause somewhere in it runs INSERT/UPDATE/DELETE/MERGE. */
  readonly dataModifyingCte: boolean;
  /**
   * Changes state that outlives the statement's transaction (a plain SET/RESET, SET SESSION
   * CHARACTERISTICS): only meaningful, and only safe, on a pinned session — on a sessionless
   * request it would leak into the next user of the pooled connection.
   */
  readonly sessionScoped: boolean;
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
const DML_DETAIL: Record<string, string> = { InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: 'MERGE' };

const TRANSACTION_DETAIL: Record<string, string | undefined> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE SAVEPOINT',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
};

/**
 * Classifies one parsed statement (a `ParsedStatement.node`). Pure and synchronous; the default
 * for anything unrecognised is `forbidden`.
 */
export function classifyStatement(node: Node): Classification {
  const pair = unwrap(node);
  if (pair === undefined) return forbidden('unknown', 'the statement could not be classified');
  const [type, fields] = pair;

  // Checked first and for every kind: a forbidden function inside an otherwise fine statement
  // (SELECT set_config('role', …)) must not ride on the statement's kind.
  const fn = findForbiddenFunction(node);
  if (fn !== undefined) return forbidden(type === 'SelectStmt' ? 'SELECT' : type, fn);

  if (type === 'SelectStmt') return classifySelect(node);
  if (DML.has(type)) {
    return {
      kind: 'execute',
      detail: DML_DETAIL[type] ?? type,
      locking: false,
      dataModifyingCte: hasDataModifyingCte(node),
      sessionScoped: false,
    };
  }
  if (type === 'TransactionStmt') return classifyTransaction(fields);
  if (type === 'VariableSetStmt') return classifySet(fields);
  if (type === 'VariableShowStmt') return classifyShow(fields);
  if (type === 'ConstraintsSetStmt') {
    // SET CONSTRAINTS … DEFERRED lasts until the end of the current transaction only.
    return plain('transaction', 'SET CONSTRAINTS');
  }
  if (type === 'LockStmt') {
    // LOCK TABLE blocks other writers (and in ACCESS EXCLUSIVE mode, readers), so it needs the
    // write permission, and PostgreSQL only accepts it inside a transaction block.
    return { kind: 'execute', detail: 'LOCK', locking: true, dataModifyingCte: false, sessionScoped: false };
  }
  if (type === 'CreateFunctionStmt') return classifyCreateFunction(fields);
  if (DDL_STATEMENTS.has(type)) return plain('ddl', type);
  const reason = FORBIDDEN_STATEMENTS.get(type);
  return forbidden(type, reason ?? `${type} is not an allowed statement`);
}

/** Whether a WITH clause anywhere under `root` (a wrapped node) holds a data-modifying statement. */
export function hasDataModifyingCte(root: unknown): boolean {
  return someNode(root, (_type, fields) => {
    const withClause = fields.withClause as AstFields | undefined;
    return list(withClause?.ctes).some((cte) => {
      const query = asNode(cte, 'CommonTableExpr')?.ctequery;
      const inner = unwrap(query);
      return inner !== undefined && DML.has(inner[0]);
    });
  });
}

/** Whether any SELECT under `root` (subqueries included) has FOR UPDATE/SHARE. */
export function hasLocking(root: unknown): boolean {
  return someNode(root, (type, fields) => type === 'SelectStmt' && list(fields.lockingClause).length > 0);
}

function classifySelect(node: Node): Classification {
  if (someNode(node, (type, f) => type === 'SelectStmt' && f.intoClause !== undefined)) {
    return plain('ddl', 'SELECT INTO');
  }
  const dataModifyingCte = hasDataModifyingCte(node);
  const locking = hasLocking(node);
  // A SELECT whose WITH runs INSERT/UPDATE/DELETE writes: it is an `execute`, never a `query`.
  if (dataModifyingCte) return { kind: 'execute', detail: 'SELECT with data-modifying WITH', locking, dataModifyingCte, sessionScoped: false };
  if (hasSessionLock(node)) return { kind: 'query', detail: 'SELECT pg_advisory_lock(…)', locking: true, dataModifyingCte, sessionScoped: true };
  return { kind: 'query', detail: locking ? 'SELECT … FOR UPDATE/SHARE' : 'SELECT', locking, dataModifyingCte, sessionScoped: false };
}

function classifyTransaction(fields: AstFields): Classification {
  const kind = str(fields, 'kind') ?? '';
  const detail = TRANSACTION_DETAIL[kind];
  if (detail !== undefined) return plain('transaction', detail);
  // Two-phase commit leaves a prepared transaction holding locks beyond the session's life.
  return forbidden('PREPARE TRANSACTION', 'two-phase commit (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED) is not allowed');
}

function classifySet(fields: AstFields): Classification {
  const setKind = str(fields, 'kind') ?? '';
  const name = (str(fields, 'name') ?? '').toLowerCase();
  const isLocal = fields.is_local === true;

  if (setKind === 'VAR_RESET_ALL') return forbidden('RESET ALL', 'RESET ALL would also reset settings the proxy manages');
  if (setKind === 'VAR_SET_MULTI') {
    if (name === 'transaction') return plain('transaction', 'SET TRANSACTION');
    if (name === 'session characteristics') {
      // Only the isolation level: READ WRITE here would undo default_transaction_read_only.
      const onlyIsolation = list(fields.args).every((arg) => asNode(arg, 'DefElem')?.defname === 'transaction_isolation');
      if (onlyIsolation) return { ...plain('transaction', 'SET SESSION CHARACTERISTICS'), sessionScoped: true };
      return forbidden('SET SESSION CHARACTERISTICS', 'only the isolation level may be set for the session');
    }
    return forbidden(`SET ${name.toUpperCase()}`, `SET ${name.toUpperCase()} is not allowed`);
  }
  const detail = `${setKind === 'VAR_RESET' ? 'RESET' : isLocal ? 'SET LOCAL' : 'SET'} ${name}`;
  if (setKind === 'VAR_SET_CURRENT') return forbidden(detail, 'SET … FROM CURRENT is not allowed');
  if (!SAFE_SETTINGS.has(name)) return forbidden(detail, `setting "${name}" is not on the safe list`);
  if (name === 'client_encoding' && setKind === 'VAR_SET_VALUE' && !list(fields.args).every(isUtf8Name)) {
    return forbidden(detail, 'client_encoding may only be UTF8 (the proxy decodes results as UTF-8)');
  }
  return { kind: 'session_setting', detail, locking: false, dataModifyingCte: false, sessionScoped: !isLocal };
}

function isUtf8Name(arg: unknown): boolean {
  const value = asNode(arg, 'A_Const')?.sval;
  const text = (value as AstFields | undefined)?.sval;
  return typeof text === 'string' && SAFE_CLIENT_ENCODINGS.has(text.toLowerCase());
}

function classifyShow(fields: AstFields): Classification {
  const name = (str(fields, 'name') ?? '').toLowerCase();
  // SHOW returns a row, so the statement is a read: it runs under `query`.
  if (SAFE_SETTINGS.has(name) || SHOW_ONLY_SETTINGS.has(name)) return plain('query', `SHOW ${name}`);
  if (name === 'all') return forbidden('SHOW ALL', 'SHOW ALL is not allowed; SHOW one setting from the safe list');
  return forbidden(`SHOW ${name}`, `setting "${name}" is not on the safe list`);
}

function classifyCreateFunction(fields: AstFields): Classification {
  let language = 'sql'; // SQL-standard bodies (RETURN …, BEGIN ATOMIC) name no language.
  for (const option of list(fields.options)) {
    const def = asNode(option, 'DefElem');
    if (def?.defname !== 'language') continue;
    const value = asNode(def.arg, 'String')?.sval;
    if (typeof value === 'string') language = value.toLowerCase();
  }
  if (!TRUSTED_LANGUAGES.has(language)) {
    return forbidden('CREATE FUNCTION', `functions in language "${language}" can reach outside the database`);
  }
  return plain('ddl', 'CreateFunctionStmt');
}

function hasSessionLock(node: Node): boolean {
  return someNode(node, (type, fields) => type === 'FuncCall' && SESSION_LOCK_FUNCTIONS.has(strings(fields.funcname).at(-1)?.toLowerCase() ?? ''));
}

function findForbiddenFunction(node: Node): string | undefined {
  let reason: string | undefined;
  someNode(node, (type, fields) => {
    if (type !== 'FuncCall') return false;
    const name = strings(fields.funcname).at(-1)?.toLowerCase();
    reason = name === undefined ? undefined : FORBIDDEN_FUNCTIONS.get(name);
    return reason !== undefined;
  });
  return reason;
}

function plain(kind: StatementKind, detail: string): Classification {
  return { kind, detail, locking: false, dataModifyingCte: false, sessionScoped: false };
}

function forbidden(detail: string, reason: string): Classification {
  return { kind: 'forbidden', detail, reason, locking: false, dataModifyingCte: false, sessionScoped: false };
}
