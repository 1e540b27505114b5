import { QsError } from '../../protocol/errors.js';
import { LruCache } from '../../protocol/lru-cache.js';
import { MAX_CACHED_SQL_LENGTH, parseSql } from '../policy/sql-parse.js';
import { FieldIndex } from './param-map-scope.js';
import type { ParamTarget, TokenizedField } from './param-map-types.js';
import { ParamMapper } from './param-map-walker.js';

export type { ParamTarget, TokenMode, TokenizedField } from './param-map-types.js';

/** Which tokenized column each parameter feeds: 1-based `$n` → column. Parameters not listed are passed as they are. */
export type ParamMap = ReadonlyMap<number, ParamTarget>;

/** How many (SQL text, fields) results are kept; the same few texts come back again and again. */
export const PARAM_MAP_CACHE_SIZE = 5_000;

/**
 * The bound on the cache's estimated memory. Keys hold the fields and the SQL text, so the count
 * alone would not bound it; texts longer than MAX_CACHED_SQL_LENGTH are not cached at all.
 */
export const PARAM_MAP_CACHE_MAX_BYTES = 32 * 1024 * 1024;

const EMPTY: ParamMap = new Map();
const cache = new LruCache<string, ParamMap | { readonly error: string }>(PARAM_MAP_CACHE_SIZE, {
  maxWeight: PARAM_MAP_CACHE_MAX_BYTES,
  // 2 bytes a UTF-16 code unit at worst, plus the map (or message) and the slot.
  weigh: (key, value) => 256 + 2 * key.length + ('error' in value ? 2 * value.error.length : 96 * value.size),
});
// Integrations hand the same (never mutated) fields array to every call: key it once.
const fieldKeys = new WeakMap<readonly TokenizedField[], string>();

/**
 * Maps the `$n` parameters of `sql` to the tokenized columns they feed, through the parser's AST
 * (DESIGN §6): INSERT column lists and VALUES rows (multi-row too), INSERT … SELECT by position,
 * ON CONFLICT DO UPDATE SET, UPDATE SET, and in conditions `col = $n`, `col <> $n`,
 * `col IN ($n, …)`, `col = ANY($n)` (array), qualified and aliased names, CTEs and subqueries.
 *
 * Fails closed: a tokenized column used in a way no parameter can be mapped for (LIKE, ranges, a
 * function around it, a literal, a cast to another type, equality on a random-mode column, an
 * INSERT without a column list, a name that may belong to several tables, a whole-row reference
 * to its table in a condition, a JOIN … USING / NATURAL JOIN that may compare it with another
 * column, a function given both it and a parameter) is refused. Results are cached per (SQL text,
 * fields) for texts up to MAX_CACHED_SQL_LENGTH.
 *
 * Known limits (no catalog): writes through a partition, a view or a function (`INSERT INTO
 * users_2024 …`, `SELECT add_user($1)`) are not recognised as writes to the tokenized table.
 *
 * @throws QsError `QS_TOKENIZATION_UNSUPPORTED` naming `schema.table.column` and the reason;
 *   `QS_SQL_SYNTAX` when the SQL does not parse.
 */
export function mapParameters(sql: string, fields: readonly TokenizedField[]): ParamMap {
  if (fields.length === 0) return EMPTY;
  const key = `${fieldsKey(fields)}\u0000${sql}`;
  const hit = cache.get(key);
  if (hit !== undefined) {
    if ('error' in hit) throw new QsError('QS_TOKENIZATION_UNSUPPORTED', hit.error);
    return hit;
  }
  const parsed = parseSql(sql);
  const mapper = new ParamMapper(new FieldIndex(fields));
  // As for the parse cache: only short texts are kept, long ones are mapped on every call.
  const cacheable = sql.length <= MAX_CACHED_SQL_LENGTH;
  try {
    for (const statement of parsed.statements) mapper.statement(statement.node);
  } catch (err) {
    if (cacheable && err instanceof QsError && err.code === 'QS_TOKENIZATION_UNSUPPORTED') cache.set(key, { error: err.message });
    throw err;
  }
  const result: ParamMap = mapper.params;
  if (cacheable) cache.set(key, result);
  return result;
}

/** The number of entries and estimated bytes in the mapping cache (tests and metrics). */
export function paramMapCacheStats(): { readonly entries: number; readonly bytes: number } {
  return { entries: cache.size, bytes: cache.weight };
}

/** Empties the mapping cache (tests; an integration's fields changing needs no flush, the key includes them). */
export function clearParamMapCache(): void {
  cache.clear();
}

function fieldsKey(fields: readonly TokenizedField[]): string {
  let key = fieldKeys.get(fields);
  if (key === undefined) {
    // JSON per field so names holding dots or commas cannot collide; sorted so order does not matter.
    key = fields
      .map((f) => JSON.stringify([f.schema ?? 'public', f.table, f.column, f.mode]))
      .sort()
      .join('\u0001');
    fieldKeys.set(fields, key);
  }
  return key;
}
