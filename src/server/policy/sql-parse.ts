import { fingerprintSync, hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import type { Node } from 'libpg-query';
import { QsError } from '../../protocol/errors.js';
import { LruCache } from '../../protocol/lru-cache.js';

/** One statement of a parsed SQL string. */
export interface ParsedStatement {
  /** The statement's AST node (`{SelectStmt: …}`, `{InsertStmt: …}`, …). Shared: never mutate. */
  readonly node: Node;
  /** The statement's own text, cut from the input at the parser's location and length. */
  readonly sql: string;
}

/** A parsed SQL string: its statements in order and the libpg-query fingerprint of the whole. */
export interface ParsedSql {
  readonly statements: readonly ParsedStatement[];
  /** libpg-query's fingerprint: equal for queries that differ only in constants (used by audit). */
  readonly fingerprint: string;
}

/** How many distinct SQL texts the parse cache holds; apps send a small set of texts again and again. */
export const PARSE_CACHE_SIZE = 5_000;

/**
 * The longest SQL text (in UTF-16 code units, i.e. characters for most text) that is cached.
 * Apps' hot statements are short; a longer text is parsed on every call, so a client sending
 * distinct large texts (up to the body limit) cannot fill memory through the cache.
 */
export const MAX_CACHED_SQL_LENGTH = 8 * 1024;

/**
 * The bound on the cache's estimated memory, keys and ASTs together. With short statements the
 * entry count is the bound that binds; with long ones this is (about 200 texts of 8 KiB).
 */
export const PARSE_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Estimated heap bytes per character of SQL for a cached parse: the key (2 bytes a code unit at
 * worst) plus the AST, which measured at 20-40 bytes per character of text on libpg-query 17.
 */
const BYTES_PER_SQL_CHAR = 42;
/** Fixed cost of an entry (map slot, frozen wrapper objects, fingerprint). */
const ENTRY_OVERHEAD_BYTES = 256;

/** Cached outcome: a parse or the message of the syntax error (bad texts are retried too). */
type CacheEntry = ParsedSql | { readonly error: string; readonly position?: string };

const cache = new LruCache<string, CacheEntry>(PARSE_CACHE_SIZE, {
  maxWeight: PARSE_CACHE_MAX_BYTES,
  // A syntax error keeps only the key and a message, not an AST.
  weigh: (sql, entry) => ENTRY_OVERHEAD_BYTES + sql.length * ('error' in entry ? 2 : BYTES_PER_SQL_CHAR),
});

// The parser is WebAssembly; its sync entry points need the module loaded first. Loading at import
// time (top-level await) means any module that imports this one may call parseSql synchronously.
const loaded = loadModule();
await loaded;

/** Resolves once the parser is loaded (already true when this module has been imported). */
export function ready(): Promise<void> {
  return loaded;
}

/**
 * Parses `sql` with the real PostgreSQL parser, cached by text in a bounded LRU (a parse costs
 * tens of microseconds; a hit costs a map lookup). The same text returns the same frozen object,
 * for texts up to {@link MAX_CACHED_SQL_LENGTH}; a longer text is parsed afresh each time.
 *
 * @throws QsError `QS_SQL_SYNTAX` (SQLSTATE 42601) with the parser's message and the 1-based
 *   character position, or "empty query" for an empty or comment-only string.
 */
export function parseSql(sql: string): ParsedSql {
  const hit = cache.get(sql);
  if (hit !== undefined) {
    if ('error' in hit) throw syntaxError(hit);
    return hit;
  }
  const entry = parseUncached(sql);
  if (sql.length <= MAX_CACHED_SQL_LENGTH) cache.set(sql, entry);
  if ('error' in entry) throw syntaxError(entry);
  return entry;
}

/** The number of texts in the parse cache now (for tests and metrics). */
export function parseCacheSize(): number {
  return cache.size;
}

/** The parse cache's estimated memory now, in bytes (for tests and metrics). */
export function parseCacheBytes(): number {
  return cache.weight;
}

/** Empties the parse cache (tests). */
export function clearParseCache(): void {
  cache.clear();
}

function parseUncached(sql: string): CacheEntry {
  // libpg-query throws a detail-less error for '' ; report it like a comment-only string.
  if (sql.trim() === '') return { error: 'empty query' };
  let stmts;
  let fingerprint: string;
  try {
    stmts = parseSync(sql).stmts ?? [];
    if (stmts.length === 0) return { error: 'empty query' };
    fingerprint = fingerprintSync(sql);
  } catch (err) {
    return syntaxEntry(err);
  }
  const slice = textSlicer(sql);
  const statements: ParsedStatement[] = [];
  for (const raw of stmts) {
    if (raw.stmt === undefined) continue;
    const start = raw.stmt_location ?? 0;
    // stmt_len 0 (absent) means "to the end of the string".
    const end = raw.stmt_len === undefined || raw.stmt_len === 0 ? undefined : start + raw.stmt_len;
    statements.push(Object.freeze({ node: raw.stmt, sql: slice(start, end).trim() }));
  }
  if (statements.length === 0) return { error: 'empty query' };
  return Object.freeze({ statements: Object.freeze(statements), fingerprint });
}

/** The parser reports byte offsets into the UTF-8 text; slice by bytes unless the text is ASCII. */
function textSlicer(sql: string): (start: number, end: number | undefined) => string {
  const bytes = Buffer.from(sql, 'utf8');
  if (bytes.length === sql.length) return (start, end) => sql.slice(start, end);
  return (start, end) => bytes.subarray(start, end).toString('utf8');
}

/** A syntax error as PostgreSQL reports it: its message, and `position` as a separate field. */
function syntaxError(entry: { error: string; position?: string }): QsError {
  return new QsError('QS_SQL_SYNTAX', entry.error, entry.position === undefined ? undefined : { pgFields: { position: entry.position } });
}

function syntaxEntry(err: unknown): { error: string; position?: string } {
  if (hasSqlDetails(err) && err.sqlDetails !== undefined) {
    // cursorPosition is a 0-based character offset; PostgreSQL reports it 1-based.
    return { error: err.sqlDetails.message, position: String(err.sqlDetails.cursorPosition + 1) };
  }
  return { error: err instanceof Error ? err.message : 'the SQL could not be parsed' };
}
