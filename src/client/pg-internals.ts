import { createRequire } from 'node:module';
import type { WireField } from '../protocol/wire.js';

/**
 * The pieces of the app's own `pg` (a peer dependency) the driver reuses, so results, errors and
 * parameter encoding are pg's, not look-alikes: `instanceof`, field order and parser choice match
 * direct pg byte for byte. Declared as the subset we rely on (as Kysely declares `PostgresPool`).
 */

/** A type-parser registry: pg-types, a `TypeOverrides`, or a per-query `{ getTypeParser }`. */
export interface TypeParserSource {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown;
}

/** pg/lib/result.js, as far as the driver touches it. */
export interface PgResult {
  command: string | null;
  rowCount: number | null;
  oid: number | null;
  rows: unknown[];
  fields: unknown[];
  rowAsArray: boolean;
  _types: TypeParserSource | undefined;
  addFields(fields: unknown[]): void;
  parseRow(row: Array<string | null>): unknown;
}

export interface PgResultConstructor {
  new (rowMode: string | undefined, types: TypeParserSource | undefined): PgResult;
}

/** pg/lib/type-overrides.js: per-client overrides that fall back to pg-types. */
export interface PgTypeOverrides extends TypeParserSource {
  setTypeParser(oid: number, format: string | ((v: string) => unknown), parseFn?: (v: string) => unknown): void;
}

interface PgUtils {
  prepareValue(value: unknown): unknown;
  /** Copies a query config (keeping its prototype, so getter-based `text` works) and folds in values/callback. */
  normalizeQueryConfig(config: unknown, values: unknown, callback: unknown): Record<string, unknown>;
  escapeIdentifier(str: string): string;
  escapeLiteral(str: string): string;
}

/** pg-protocol's DatabaseError (the one `pg.DatabaseError` re-exports). */
export interface PgDatabaseErrorConstructor {
  new (message: string, length: number, name: string): Error & Record<string, unknown>;
}

type FieldConstructor = new (...args: [string, number, number, number, number, number, string]) => WireField;

const require = createRequire(import.meta.url);
// Resolve pg-protocol from pg's own location, so the classes are the very ones pg uses even when
// the app and this package carry different copies.
const pgRequire = createRequire(require.resolve('pg'));

export const PgResultClass = require('pg/lib/result.js') as PgResultConstructor;
export const PgTypeOverridesClass = require('pg/lib/type-overrides.js') as new (types?: TypeParserSource) => PgTypeOverrides;
export const pgUtils = require('pg/lib/utils.js') as PgUtils;
const pgProtocol = pgRequire('pg-protocol') as { DatabaseError: PgDatabaseErrorConstructor };
export const PgDatabaseError = pgProtocol.DatabaseError;
export const PgField = (pgRequire('pg-protocol/dist/messages.js') as { Field: FieldConstructor }).Field;
/** The global pg-types registry `pg.types` is. */
export const pgTypes = pgRequire('pg-types') as TypeParserSource & { setTypeParser: PgTypeOverrides['setTypeParser'] };
