import { serializeArrayLiteral } from './pg-array.js';

/**
 * What tokenization reads from the target database's catalog: tables by (schema, name) with their
 * oid and columns, so fields can be checked when an integration is saved, result columns can be
 * matched by (tableID, columnID), and tokenize_and_insert can check its identifiers.
 */

/** One live column of a table. */
export interface ColumnInfo {
  /** `pg_attribute.attnum`, which RowDescription calls columnID. */
  readonly attnum: number;
  readonly name: string;
  /** The type's name (`text`, `int4`, …); for a domain, its base type's name. */
  readonly type: string;
}

/** One table (`pg_class` row) and its columns. */
export interface TableInfo {
  /** `pg_class.oid`, which RowDescription calls tableID. */
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly ColumnInfo[];
}

/** A table name with its schema settled. */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/**
 * Runs one catalog query on the target database and returns its single text cell. Implemented
 * over the executor's read-only pool, or over a short-lived connection when no integration exists yet.
 */
export type CatalogQuery = (sql: string, params: Array<string | null>) => Promise<string | null>;

/** Column types a token (ASCII text) can be stored in. char(n)'s blank padding is stripped on read. */
export const TEXT_TYPES: ReadonlySet<string> = new Set(['text', 'varchar', 'bpchar', 'citext']);

// One row of JSON whatever the number of columns, so an integration's max_rows never applies.
// Only ordinary and partitioned tables: a view's columns are reported under the view's own oid.
const TABLES_SQL = `SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname, c.oid::int8, a.attnum, a.attname,
         coalesce(bt.typname, t.typname)) ORDER BY c.oid, a.attnum), '[]')::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN unnest($1::text[], $2::text[]) AS want(nsp, rel) ON want.nsp = n.nspname AND want.rel = c.relname
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
 WHERE c.relkind IN ('r', 'p')`;

type Row = [string, string, number, number | null, string | null, string | null];

/** Loads the named tables that exist (missing ones are simply absent from the answer). */
export async function loadTables(query: CatalogQuery, names: readonly TableName[]): Promise<TableInfo[]> {
  if (names.length === 0) return [];
  const text = await query(TABLES_SQL, [serializeArrayLiteral(names.map((n) => n.schema)), serializeArrayLiteral(names.map((n) => n.table))]);
  const rows = JSON.parse(text ?? '[]') as Row[];
  const byOid = new Map<number, { oid: number; schema: string; table: string; columns: ColumnInfo[] }>();
  for (const [schema, table, oid, attnum, name, type] of rows) {
    let info = byOid.get(oid);
    if (info === undefined) {
      info = { oid, schema, table, columns: [] };
      byOid.set(oid, info);
    }
    // A table without columns still joins once, with NULLs.
    if (attnum !== null && name !== null) info.columns.push({ attnum, name, type: type ?? '' });
  }
  return [...byOid.values()];
}

/** `schema.table` as a map key; NUL cannot occur in identifiers, so keys never collide. */
export function tableKey(name: TableName): string {
  return `${name.schema}\u0000${name.table}`;
}
