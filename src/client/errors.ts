import type { WireError } from '../protocol/wire.js';
import { ERROR_CODES, type QsErrorCode } from '../protocol/error-codes.js';
import { PgDatabaseError } from './pg-internals.js';

/**
 * pg's DatabaseError with the proxy's refusal code when the proxy, not PostgreSQL, said no: the
 * same fields the wire carries (WireError), with `qsCode` in pg's camelCase.
 */
export type QsDatabaseError = Error &
  Partial<Omit<WireError, 'message' | 'qs_code'>> & {
    /** `QS_…` when the proxy refused the statement (policy, tokenization, session, limits). */
    qsCode?: string;
  };

/**
 * Turn the error a proxy answer carries into the very `DatabaseError` pg raises (pg-protocol's
 * class, so `err instanceof pg.DatabaseError` holds), with the fields assigned in pg-protocol's
 * order; `length` is -1 as there was no wire message. `qsCode` is added only for proxy refusals.
 */
export function toDatabaseError(wire: WireError): QsDatabaseError {
  const err = new PgDatabaseError(String(wire.message ?? 'unknown error'), -1, 'error') as QsDatabaseError;
  err.severity = wire.severity ?? 'ERROR';
  err.code = wire.code;
  err.detail = wire.detail;
  err.hint = wire.hint;
  err.position = wire.position;
  err.internalPosition = wire.internalPosition;
  err.internalQuery = wire.internalQuery;
  err.where = wire.where;
  err.schema = wire.schema;
  err.table = wire.table;
  err.column = wire.column;
  err.dataType = wire.dataType;
  err.constraint = wire.constraint;
  err.file = wire.file;
  err.line = wire.line;
  err.routine = wire.routine;
  if (wire.qs_code !== undefined) err.qsCode = wire.qs_code;
  return err;
}

/**
 * A client-side failure in pg's shape (a DatabaseError with the code's SQLSTATE), for errors an
 * ORM must see as a database error: query_timeout (57014, as postgres.js reports a cancel).
 */
export function clientDatabaseError(qsCode: QsErrorCode, message: string): QsDatabaseError {
  return toDatabaseError({ code: ERROR_CODES[qsCode].sqlstate, message, qs_code: qsCode });
}
