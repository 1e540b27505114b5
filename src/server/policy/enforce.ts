import { QsError } from '../../protocol/errors.js';
import type { Operation } from '../../protocol/wire.js';
import { classifyStatement } from './classify.js';
import type { Classification, StatementKind } from './classify.js';
import { parseSql } from './sql-parse.js';

/** One statement that passed the policy, with the operation it runs under. */
export interface CheckedStatement {
  /** The statement's own text (one statement of the request's string). */
  readonly sql: string;
  readonly kind: Exclude<StatementKind, 'forbidden'>;
  /** The permission the statement was admitted under (for audit and for the executor). */
  readonly operation: Operation;
  /** Takes locks that only make sense inside a transaction (FOR UPDATE/SHARE, LOCK). */
  readonly locking: boolean;
  /**
   * Starts or sets a READ WRITE transaction (BEGIN/START TRANSACTION/SET TRANSACTION … READ WRITE).
   * Admitted only for an integration with a write permission (`execute` or `ddl`); carried so the
   * data plane can tell, e.g. to keep such a statement off a read-only connection.
   */
  readonly readWrite: boolean;
}

/** The outcome of a policy check: the statements to run, in order, and the SQL's fingerprint. */
export interface CheckResult {
  readonly statements: readonly CheckedStatement[];
  readonly fingerprint: string;
}

/** Input of {@link checkOperation}. */
export interface CheckOperationInput {
  /** The operation the request names. */
  readonly operation: Operation;
  /** The request's SQL text (`payload.sql`). */
  readonly sql: string;
  /** The integration's `allowed_operations` (default deny: empty refuses everything). */
  readonly allowedOperations: readonly Operation[];
  /** The request runs on a pinned session (`session_id`), i.e. possibly inside a transaction. */
  readonly inSession: boolean;
  /**
   * Accept several statements under `query`/`execute`/`ddl` (each must still be of that kind).
   * Off by default: DESIGN §4 refuses stacked statements there.
   */
  readonly multiStatementAllowed?: boolean;
}

const SINGLE_KIND_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(['query', 'execute', 'ddl']);

/**
 * Permissions that admit SQL which writes. `tokenize_and_insert` is not one: its INSERT is built by
 * the server, so it gives an app no business opening READ WRITE transactions of its own SQL.
 */
const WRITE_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(['execute', 'ddl']);

/**
 * Checks a request's SQL against the integration's policy (DESIGN §4). The operation is checked
 * before the SQL is even parsed, so a denied operation costs nothing and reveals nothing.
 *
 * - `query` / `execute` / `ddl`: exactly one statement of that kind.
 * - `transaction` with `{sql}`: any number of statements, each checked under its own kind, and
 *   each kind's operation must be allowed (a `BEGIN; INSERT …; COMMIT` needs `execute` too).
 *
 * @throws QsError QS_OPERATION_DENIED, QS_SQL_SYNTAX, QS_MULTI_STATEMENT, QS_OPERATION_MISMATCH or
 *   QS_STATEMENT_NOT_ALLOWED (each with its registry SQLSTATE).
 */
export function checkOperation(input: CheckOperationInput): CheckResult {
  const { operation, sql, allowedOperations, inSession } = input;
  if (!allowedOperations.includes(operation)) {
    throw new QsError('QS_OPERATION_DENIED', `operation "${operation}" is not allowed for this integration (allowed: ${listOf(allowedOperations)})`);
  }
  if (operation === 'tokenize_and_insert') {
    throw new QsError('QS_OPERATION_MISMATCH', 'tokenize_and_insert carries records, not SQL; the server builds its INSERT itself');
  }
  const parsed = parseSql(sql);

  if (operation === 'transaction') {
    // A multi-statement string runs as one implicit transaction, so locks and SET LOCAL are meaningful.
    const statements = parsed.statements.map((s) => admitOwnKind(s.sql, classifyStatement(s.node), allowedOperations, inSession));
    return { statements, fingerprint: parsed.fingerprint };
  }

  if (SINGLE_KIND_OPERATIONS.has(operation) && parsed.statements.length > 1 && input.multiStatementAllowed !== true) {
    throw new QsError('QS_MULTI_STATEMENT', `operation "${operation}" takes exactly one statement, got ${parsed.statements.length}; send several statements as "transaction"`);
  }
  const statements = parsed.statements.map((s) => {
    const c = classifyStatement(s.node);
    if (c.kind === 'forbidden') throw notAllowed(c);
    if (c.kind !== operation) {
      throw new QsError('QS_OPERATION_MISMATCH', `the statement is ${describe(c)}, but the request names operation "${operation}"`);
    }
    if (c.sessionScoped && !inSession) refuseSessionScoped(c);
    if (c.locking && !inSession) refuseLockingOutsideTransaction(c);
    return checked(s.sql, c, operation);
  });
  return { statements, fingerprint: parsed.fingerprint };
}

/**
 * Checks SQL sent on a pinned session, where the statement's own kind decides the permission it
 * needs: an INSERT runs if the integration allows `execute`, a BEGIN if it allows `transaction`,
 * whatever operation the driver guessed. Several statements (a simple multi-statement query) are
 * each checked the same way.
 *
 * Session settings (safe SET/RESET) are admitted on a session under any SQL permission, since
 * they change only how the session's own statements behave; they are reported as `transaction`
 * when allowed, else as the first of `query`/`execute` the integration allows.
 *
 * @throws QsError as {@link checkOperation}.
 */
export function checkStatementInSession(sql: string, allowedOperations: readonly Operation[]): CheckResult {
  if (!allowedOperations.some((op) => op !== 'tokenize_and_insert')) {
    throw new QsError('QS_OPERATION_DENIED', `no SQL operation is allowed for this integration (allowed: ${listOf(allowedOperations)})`);
  }
  const parsed = parseSql(sql);
  const statements = parsed.statements.map((s) => admitOwnKind(s.sql, classifyStatement(s.node), allowedOperations, true));
  return { statements, fingerprint: parsed.fingerprint };
}

/**
 * Whether `sql` holds a statement that starts or sets a READ WRITE transaction (`BEGIN READ WRITE`,
 * `START TRANSACTION READ WRITE`, `SET TRANSACTION READ WRITE`; `SET SESSION CHARACTERISTICS AS
 * TRANSACTION READ WRITE` is refused outright). For callers that hold SQL outside the policy
 * check, such as the `{action:"begin"}` form. Text that does not parse answers false: the policy
 * check refuses it anyway.
 */
export function startsReadWriteTransaction(sql: string): boolean {
  let statements;
  try {
    statements = parseSql(sql).statements;
  } catch {
    return false;
  }
  return statements.some((s) => classifyStatement(s.node).readWrite);
}

/** The permission a statement of `kind` needs when it is checked under its own kind. */
export function operationForKind(kind: Exclude<StatementKind, 'forbidden' | 'session_setting'>): Operation {
  return kind;
}

function admitOwnKind(sql: string, c: Classification, allowed: readonly Operation[], inSession: boolean): CheckedStatement {
  if (c.kind === 'forbidden') throw notAllowed(c);
  if (c.kind === 'session_setting') {
    const operation = settingOperation(allowed, inSession);
    if (operation === undefined) {
      throw new QsError('QS_OPERATION_DENIED', `${c.detail} needs operation "transaction" or a session (allowed: ${listOf(allowed)})`);
    }
    if (c.sessionScoped && !inSession) refuseSessionScoped(c);
    return checked(sql, c, operation);
  }
  if (c.sessionScoped && !inSession) refuseSessionScoped(c);
  if (c.readWrite && !allowed.some((op) => WRITE_OPERATIONS.has(op))) {
    // Sessions of an integration that may not write run on read-only connections (the second
    // wall of DESIGN §4); READ WRITE would switch that wall off for the transaction.
    throw new QsError('QS_OPERATION_DENIED', `${c.detail} needs a write permission ("execute" or "ddl"), which this integration does not have (allowed: ${listOf(allowed)})`);
  }
  const operation = operationForKind(c.kind);
  if (!allowed.includes(operation)) {
    throw new QsError('QS_OPERATION_DENIED', `${c.detail} needs operation "${operation}", which is not allowed for this integration (allowed: ${listOf(allowed)})`);
  }
  return checked(sql, c, operation);
}

/**
 * Outside a session a setting needs `transaction` (it can only matter as SET LOCAL inside the
 * request's own transaction); on a session any SQL permission will do.
 */
function settingOperation(allowed: readonly Operation[], inSession: boolean): Operation | undefined {
  if (allowed.includes('transaction')) return 'transaction';
  if (!inSession) return undefined;
  return allowed.find((op) => op === 'query' || op === 'execute' || op === 'ddl');
}

function notAllowed(c: Classification): QsError {
  return new QsError('QS_STATEMENT_NOT_ALLOWED', `${c.detail} is not allowed: ${c.reason ?? 'not on the allowed list'}`);
}

function refuseLockingOutsideTransaction(c: Classification): never {
  throw new QsError(
    'QS_OPERATION_MISMATCH',
    `${c.detail} takes locks that are released as soon as the statement ends outside a transaction; run it on a session (pool.connect()) or in a transaction`,
  );
}

function refuseSessionScoped(c: Classification): never {
  throw new QsError(
    'QS_OPERATION_MISMATCH',
    `${c.detail} outlives the request and is allowed only on a session (pool.connect()); use SET LOCAL inside a transaction instead`,
  );
}

function checked(sql: string, c: Classification, operation: Operation): CheckedStatement {
  // classifyStatement's forbidden kind was refused before this point.
  return { sql, kind: c.kind as CheckedStatement['kind'], operation, locking: c.locking, readWrite: c.readWrite };
}

function describe(c: Classification): string {
  return `${c.detail} (kind "${c.kind}")`;
}

function listOf(ops: readonly Operation[]): string {
  return ops.length === 0 ? 'none' : ops.join(', ');
}
