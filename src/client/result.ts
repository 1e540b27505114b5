import type { WireField, WireResult } from '../protocol/wire.js';
import { PgField, PgResultClass, type PgResult, type TypeParserSource } from './pg-internals.js';

/**
 * Commands whose answer has a RowDescription even with zero columns. pg calls `addFields` only
 * when a RowDescription arrives, which changes the Result's internals; INSERT/UPDATE/DELETE
 * without RETURNING have none.
 */
const ROW_COMMANDS = new Set(['SELECT', 'SHOW', 'FETCH', 'EXPLAIN']);

/**
 * Rebuild pg's own `Result` from a proxy answer by replaying what pg does on the wire messages:
 * RowDescription → `addFields` (which picks the parsers: per-query `types`, else the client's
 * TypeOverrides, else global pg.types), each DataRow → `parseRow`, CommandComplete → command,
 * rowCount, oid. The outcome is deep-equal to direct pg's for the same query.
 *
 * A parser that throws propagates, as pg fails the query when parsing a row throws.
 */
export function buildResult(wire: WireResult, rowMode: string | undefined, types: TypeParserSource | undefined): PgResult {
  const result = new PgResultClass(rowMode, types);
  if (wire.fields.length > 0 || ROW_COMMANDS.has(wire.command)) result.addFields(wire.fields.map(toPgField));
  for (const row of wire.rows) result.rows.push(result.parseRow(row));
  result.command = wire.command;
  result.rowCount = wire.rowCount;
  result.oid = wire.oid;
  return result;
}

/** An empty Result, as pg answers an empty query string. */
export function emptyResult(rowMode: string | undefined, types: TypeParserSource | undefined): PgResult {
  return new PgResultClass(rowMode, types);
}

function toPgField(f: WireField): WireField {
  return new PgField(f.name, f.tableID, f.columnID, f.dataTypeID, f.dataTypeSize, f.dataTypeModifier, f.format === 'binary' ? 'binary' : 'text');
}
