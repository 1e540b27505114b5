import { QsError } from '../../protocol/errors.js';
import type { SqlStatement } from '../../protocol/wire.js';

const MAX_SQL = 1024 * 1024;
const MAX_PARAMS = 65_535; // PostgreSQL's own limit on bind parameters.

/** `{sql, params?}` with params as pg sends them (text or null). Anything else: QS_INVALID_REQUEST. */
export function readStatement(value: unknown, where = 'payload'): SqlStatement {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new QsError('QS_INVALID_REQUEST', `${where} must be an object {sql, params}`);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'sql' && k !== 'params') throw new QsError('QS_INVALID_REQUEST', `${where}: unknown property "${k}"`);
  if (typeof o.sql !== 'string' || o.sql.length > MAX_SQL) throw new QsError('QS_INVALID_REQUEST', `${where}.sql must be a string of at most ${MAX_SQL} characters`);
  if (o.params === undefined) return { sql: o.sql };
  if (!Array.isArray(o.params) || o.params.length > MAX_PARAMS) throw new QsError('QS_INVALID_REQUEST', `${where}.params must be an array of at most ${MAX_PARAMS} values`);
  for (const [i, p] of o.params.entries()) {
    if (p !== null && typeof p !== 'string') throw new QsError('QS_INVALID_REQUEST', `${where}.params[${i}] must be a string or null (pg's text form)`);
  }
  return { sql: o.sql, params: o.params as Array<string | null> };
}

export type TransactionRequest =
  | { kind: 'batch'; statements: SqlStatement[] }
  | { kind: 'action'; action: 'begin' | 'commit' | 'rollback' | 'close' }
  | { kind: 'statement'; statement: SqlStatement };

/** The three shapes a `transaction` payload may take (DESIGN §4). */
export function readTransaction(value: unknown): TransactionRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new QsError('QS_INVALID_REQUEST', 'payload must be an object');
  const o = value as Record<string, unknown>;
  if ('statements' in o) {
    if (Object.keys(o).length !== 1 || !Array.isArray(o.statements) || o.statements.length === 0 || o.statements.length > 1000) {
      throw new QsError('QS_INVALID_REQUEST', 'payload must be {statements: [1..1000 × {sql, params}]}');
    }
    return { kind: 'batch', statements: o.statements.map((s, i) => readStatement(s, `payload.statements[${i}]`)) };
  }
  if ('action' in o) {
    if (Object.keys(o).length !== 1 || !['begin', 'commit', 'rollback', 'close'].includes(o.action as string)) {
      throw new QsError('QS_INVALID_REQUEST', 'payload.action must be one of begin, commit, rollback, close');
    }
    return { kind: 'action', action: o.action as 'begin' | 'commit' | 'rollback' | 'close' };
  }
  return { kind: 'statement', statement: readStatement(o) };
}
