import { QsError } from '../../protocol/errors.js';
import type { SqlStatement } from '../../protocol/wire.js';
import type { TableInfo } from './catalog.js';

/**
 * tokenize_and_insert (DESIGN §4): `{table, records:[{col: value}], returning?:[col]}` becomes one
 * INSERT the server writes itself. Identifiers are checked against a strict pattern and against the
 * catalog, and always double-quoted; values only ever travel as parameters.
 */

/** Records per call; one statement, so one round trip and all-or-nothing. */
export const MAX_INSERT_RECORDS = 1000;
/** PostgreSQL's limit on bind parameters in one statement. */
const MAX_PARAMS = 65_535;
/** Plain SQL identifiers (NAMEDATALEN - 1 bytes). Names are used exactly as given: no case folding. */
const IDENT = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const PAYLOAD_KEYS = new Set(['table', 'records', 'returning']);

/** A validated tokenize_and_insert payload, values already in PostgreSQL's text form. */
export interface InsertRequest {
  readonly schema: string;
  readonly table: string;
  /** Column names, in the order of the first record. */
  readonly columns: readonly string[];
  /** One row per record, values in `columns` order. */
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>;
  readonly returning: readonly string[];
}

/**
 * Checks the payload's shape: `table` is `name` or `schema.name` (schema `public` by default),
 * 1..1000 records that are objects with the same keys, values string/number/boolean/null,
 * `returning` a list of identifiers. Numbers and booleans become their text form, as pg sends them.
 * @throws QsError `QS_INVALID_REQUEST`
 */
export function readInsertPayload(payload: unknown): InsertRequest {
  if (!isPlainObject(payload)) throw invalid('payload must be an object {table, records, returning?}');
  for (const k of Object.keys(payload)) if (!PAYLOAD_KEYS.has(k)) throw invalid(`payload: unknown property "${k.slice(0, 64)}"`);
  const { schema, table } = readTableName(payload.table);
  const records = payload.records;
  if (!Array.isArray(records) || records.length === 0 || records.length > MAX_INSERT_RECORDS) {
    throw invalid(`payload.records must be an array of 1..${MAX_INSERT_RECORDS} objects`);
  }
  const first: unknown = records[0];
  if (!isPlainObject(first)) throw invalid('payload.records[0] must be an object');
  const columns = Object.keys(first);
  if (columns.length === 0) throw invalid('payload.records[0] has no columns');
  for (const c of columns) if (!IDENT.test(c)) throw invalid(`payload.records[0]: "${c.slice(0, 64)}" is not a valid column name`);
  if (columns.length * records.length > MAX_PARAMS) throw invalid(`payload.records: more than ${MAX_PARAMS} values in one insert`);
  const rows = records.map((record: unknown, i) => {
    if (!isPlainObject(record)) throw invalid(`payload.records[${i}] must be an object`);
    const keys = Object.keys(record);
    if (keys.length !== columns.length || !columns.every((c) => Object.hasOwn(record, c))) {
      throw invalid(`payload.records[${i}] must have exactly the columns of records[0] (${columns.join(', ')})`);
    }
    return columns.map((c) => toText(record[c], `payload.records[${i}].${c}`));
  });
  const returning = payload.returning ?? [];
  if (!Array.isArray(returning) || returning.some((r) => typeof r !== 'string' || !IDENT.test(r))) {
    throw invalid('payload.returning must be an array of column names');
  }
  return { schema, table, columns, rows, returning: returning as string[] };
}

/**
 * Refuses a table or column the catalog does not know.
 * @throws QsError `QS_NOT_FOUND` naming the table or column
 */
export function checkInsertTarget(request: InsertRequest, table: TableInfo | undefined): void {
  const name = `${request.schema}.${request.table}`;
  if (table === undefined) throw new QsError('QS_NOT_FOUND', `tokenize_and_insert: table ${name} does not exist (or is not a table)`);
  const known = new Set(table.columns.map((c) => c.name));
  for (const c of [...request.columns, ...request.returning]) {
    if (!known.has(c)) throw new QsError('QS_NOT_FOUND', `tokenize_and_insert: column "${c}" does not exist in table ${name}`);
  }
}

/** `INSERT INTO "s"."t" ("a","b") VALUES ($1,$2),($3,$4) RETURNING "x"`, with `rows` as the parameters in order. */
export function buildInsert(request: InsertRequest, rows: ReadonlyArray<ReadonlyArray<string | null>>): SqlStatement {
  const width = request.columns.length;
  const values = rows.map((_, r) => `(${Array.from({ length: width }, (_v, c) => `$${r * width + c + 1}`).join(',')})`).join(',');
  const returning = request.returning.length > 0 ? ` RETURNING ${request.returning.map(quoteIdent).join(',')}` : '';
  return {
    sql: `INSERT INTO ${quoteIdent(request.schema)}.${quoteIdent(request.table)} (${request.columns.map(quoteIdent).join(',')}) VALUES ${values}${returning}`,
    params: rows.flat(),
  };
}

/** A double-quoted SQL identifier (embedded quotes doubled). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function readTableName(value: unknown): { schema: string; table: string } {
  if (typeof value !== 'string') throw invalid('payload.table must be a string "table" or "schema.table"');
  const parts = value.split('.');
  const [a, b] = parts;
  if (parts.length > 2 || a === undefined || !IDENT.test(a) || (b !== undefined && !IDENT.test(b))) {
    throw invalid('payload.table must be "table" or "schema.table" with plain identifiers');
  }
  return b === undefined ? { schema: 'public', table: a } : { schema: a, table: b };
}

function toText(value: unknown, where: string): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw invalid(`${where} must be a string, a finite number, a boolean or null`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): QsError {
  return new QsError('QS_INVALID_REQUEST', message);
}
