import type { Node } from 'libpg-query';
import { asNode, isObject, list, someNode, str, strings, unwrap } from './ast-nodes.js';
import type { AstFields } from './ast-nodes.js';
import { WRITE_FUNCTIONS, forbiddenFunctionReason, isSessionStateFunction } from './forbidden-functions.js';
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
  /**
   * Starts (or sets) a READ WRITE transaction: `BEGIN READ WRITE`, `START TRANSACTION READ WRITE`,
   * `SET TRANSACTION READ WRITE`. On a read-only connection (an integration that may not write)
   * it would undo `default_transaction_read_only`, the second wall, so it needs a write permission.
   */
  readonly readWrite: boolean;
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
  // The parse cache hands out the same frozen AST for the same SQL text, so a hot statement is
  // classified once (the walks below were ~7% of the proxy's loop at 32 requests in flight).
  let c = classified.get(node);
  if (c === undefined) classified.set(node, (c = Object.freeze(classifyUncached(node))));
  return c;
}

const classified = new WeakMap<Node, Classification>();

function classifyUncached(node: Node): Classification {
  const pair = unwrap(node);
  if (pair === undefined) return forbidden('unknown', 'the statement could not be classified');
  const [type, fields] = pair;

  // Checked first and for every kind: a forbidden function inside an otherwise fine statement
  // (SELECT set_config('role', …)) must not ride on the statement's kind.
  const fn = findForbiddenFunction(node);
  if (fn !== undefined) return forbidden(type === 'SelectStmt' ? 'SELECT' : type, fn);
  const catalog = findCatalogWrite(node);
  if (catalog !== undefined) return forbidden(type === 'SelectStmt' ? 'SELECT' : (DML_DETAIL[type] ?? type), catalog);

  if (type === 'SelectStmt') return classifySelect(node);
  if (DML.has(type)) {
    return {
      kind: 'execute',
      detail: DML_DETAIL[type] ?? type,
      locking: false,
      dataModifyingCte: hasDataModifyingCte(node),
      sessionScoped: false,
      readWrite: false,
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
    return { kind: 'execute', detail: 'LOCK', locking: true, dataModifyingCte: false, sessionScoped: false, readWrite: false };
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
  if (dataModifyingCte) return { kind: 'execute', detail: 'SELECT with data-modifying WITH', locking, dataModifyingCte, sessionScoped: false, readWrite: false };
  const sessionFn = findFunction(node, isSessionStateFunction);
  // A SELECT that writes through a function (setval) is a write: it needs `execute`, and it keeps
  // the session-state flags if it also takes a session-level lock.
  const writeFn = findFunction(node, (name) => WRITE_FUNCTIONS.has(name));
  if (writeFn !== undefined) {
    return { kind: 'execute', detail: `SELECT ${writeFn}(…)`, locking: locking || sessionFn !== undefined, dataModifyingCte, sessionScoped: sessionFn !== undefined, readWrite: false };
  }
  if (sessionFn !== undefined) return { kind: 'query', detail: `SELECT ${sessionFn}(…)`, locking: true, dataModifyingCte, sessionScoped: true, readWrite: false };
  return { kind: 'query', detail: locking ? 'SELECT … FOR UPDATE/SHARE' : 'SELECT', locking, dataModifyingCte, sessionScoped: false, readWrite: false };
}

function classifyTransaction(fields: AstFields): Classification {
  const kind = str(fields, 'kind') ?? '';
  const detail = TRANSACTION_DETAIL[kind];
  if (detail !== undefined) {
    const readWrite = setsReadWrite(fields.options);
    return { ...plain('transaction', readWrite ? `${detail} READ WRITE` : detail), readWrite };
  }
  // Two-phase commit leaves a prepared transaction holding locks beyond the session's life.
  return forbidden('PREPARE TRANSACTION', 'two-phase commit (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED) is not allowed');
}

function classifySet(fields: AstFields): Classification {
  const setKind = str(fields, 'kind') ?? '';
  const name = (str(fields, 'name') ?? '').toLowerCase();
  const isLocal = fields.is_local === true;

  if (setKind === 'VAR_RESET_ALL') return forbidden('RESET ALL', 'RESET ALL would also reset settings the proxy manages');
  if (setKind === 'VAR_SET_MULTI') {
    if (name === 'transaction') {
      const readWrite = setsReadWrite(fields.args);
      return { ...plain('transaction', readWrite ? 'SET TRANSACTION READ WRITE' : 'SET TRANSACTION'), readWrite };
    }
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
  return { kind: 'session_setting', detail, locking: false, dataModifyingCte: false, sessionScoped: !isLocal, readWrite: false };
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

/**
 * Whether transaction options (a TransactionStmt's `options`, SET TRANSACTION's `args`) set
 * `transaction_read_only` to false. The grammar only ever gives it an integer constant, 1 for
 * READ ONLY; anything else counts as READ WRITE, so an unexpected shape fails closed.
 */
function setsReadWrite(options: unknown): boolean {
  return list(options).some((option) => {
    const def = asNode(option, 'DefElem');
    if (def?.defname !== 'transaction_read_only') return false;
    const ival = asNode(def.arg, 'A_Const')?.ival as AstFields | undefined;
    return ival?.ival !== 1;
  });
}

/** The lower-cased own name of the first function called under `node` that `test` accepts. */
function findFunction(node: Node, test: (name: string) => boolean): string | undefined {
  let found: string | undefined;
  someNode(node, (type, fields) => {
    if (type !== 'FuncCall') return false;
    const name = strings(fields.funcname).at(-1)?.toLowerCase();
    if (name === undefined || !test(name)) return false;
    found = name;
    return true;
  });
  return found;
}

/**
 * Why a call under `node` is refused (see forbidden-functions.ts), for the first such call. Every
 * FuncCall is looked at, wherever it sits: select list, WHERE, FROM (`SELECT * FROM
 * pg_ls_dir('.')`), defaults, CTEs, subqueries, a SQL-standard function body.
 */
function findForbiddenFunction(node: Node): string | undefined {
  let reason: string | undefined;
  someNode(node, (type, fields) => {
    if (type !== 'FuncCall') return false;
    const name = strings(fields.funcname).at(-1);
    reason = name === undefined ? undefined : forbiddenFunctionReason(name, list(fields.args).length);
    return reason !== undefined;
  });
  return reason;
}

/**
 * Why a write under `node` (INSERT/UPDATE/DELETE/MERGE, data-modifying CTEs included) is refused
 * for its target: the system catalogs. `UPDATE pg_settings SET setting = … WHERE name = 'role'`
 * calls set_config() through the view's rule (so it is the set_config bypass under `execute`), and
 * writing any other catalog table is never an app's business. An unqualified `pg_…` name resolves
 * to pg_catalog first unless the search path says otherwise, so it is refused too.
 */
function findCatalogWrite(node: Node): string | undefined {
  let reason: string | undefined;
  someNode(node, (type, fields) => {
    if (!DML.has(type)) return false;
    const rel = fields.relation;
    if (!isObject(rel)) return false;
    const schema = str(rel, 'schemaname')?.toLowerCase();
    const table = (str(rel, 'relname') ?? '').toLowerCase();
    if (schema === 'pg_catalog' || schema === 'information_schema' || (schema === undefined && table.startsWith('pg_'))) {
      reason = `it writes the system catalog ${schema === undefined ? '' : `${schema}.`}${table} (UPDATE pg_settings is set_config() past the SET policy)`;
    }
    return reason !== undefined;
  });
  return reason;
}

function plain(kind: StatementKind, detail: string): Classification {
  return { kind, detail, locking: false, dataModifyingCte: false, sessionScoped: false, readWrite: false };
}

function forbidden(detail: string, reason: string): Classification {
  return { kind: 'forbidden', detail, reason, locking: false, dataModifyingCte: false, sessionScoped: false, readWrite: false };
}
