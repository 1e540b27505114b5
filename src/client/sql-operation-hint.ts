import type { Operation } from '../protocol/wire.js';

/** What the driver guesses about a SQL string before sending it; the server re-decides with the real parser. */
export interface SqlHint {
  operation: Operation;
  /** A `;` followed by more statement text (outside quotes, dollar quotes and comments). */
  multiStatement: boolean;
}

const QUERY = new Set(['SELECT', 'VALUES', 'TABLE', 'SHOW', 'EXPLAIN', 'FETCH', 'MOVE', 'DECLARE', 'CLOSE']);
const EXECUTE = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'CALL', 'DO', 'COPY', 'LISTEN', 'UNLISTEN', 'NOTIFY', 'PREPARE', 'EXECUTE', 'DEALLOCATE']);
const TRANSACTION = new Set(['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE', 'SET', 'RESET', 'LOCK', 'DISCARD']);
const DDL = new Set(['CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'COMMENT', 'GRANT', 'REVOKE', 'ANALYZE', 'VACUUM', 'REINDEX', 'CLUSTER', 'REFRESH', 'SECURITY', 'IMPORT']);
/** Verbs that can follow a WITH clause as the main statement. */
const MAIN_AFTER_WITH = new Set(['SELECT', 'VALUES', 'TABLE', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);
const MODIFYING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

interface Scan {
  /** The first word of the text at any depth (`(SELECT …)` starts with SELECT). */
  firstWord: string | undefined;
  /** Words at parenthesis depth 0 of the first statement, upper-cased, in order (at most a few dozen). */
  topWords: string[];
  /** First word inside each top-level parenthesised group of the first statement. */
  groupFirstWords: string[];
  multiStatement: boolean;
}

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
const MAX_TOP_WORDS = 256;

/**
 * One linear pass over the text that skips what can hide keywords or semicolons: comments
 * (nested block comments), '…' and E'…' strings, "…" identifiers and $tag$…$tag$ bodies.
 */
function scan(sql: string): Scan {
  const topWords: string[] = [];
  const groupFirstWords: string[] = [];
  let firstWord: string | undefined;
  let depth = 0;
  let awaitingGroupWord = false;
  let afterSemicolon = false;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
      continue;
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          level++;
          i += 2;
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          level--;
          i += 2;
        } else {
          i++;
        }
      }
      continue;
    }
    if (c <= 32) {
      i++;
      continue;
    }
    if (afterSemicolon) {
      if (c === 59) {
        i++;
        continue;
      }
      // Real text after a `;`: a second statement. Nothing more to learn.
      return { firstWord, topWords, groupFirstWords, multiStatement: true };
    }
    if (c === 39) {
      i = skipQuoted(sql, i, 39, isEscapeString(sql, i));
      awaitingGroupWord = false;
      continue;
    }
    if (c === 34) {
      i = skipQuoted(sql, i, 34, false);
      awaitingGroupWord = false;
      continue;
    }
    if (c === 36) {
      const tagEnd = dollarTagEnd(sql, i);
      if (tagEnd !== -1) {
        const tag = sql.slice(i, tagEnd + 1);
        const close = sql.indexOf(tag, tagEnd + 1);
        i = close === -1 ? n : close + tag.length;
        awaitingGroupWord = false;
        continue;
      }
      i++;
      continue;
    }
    if (c === 40) {
      if (depth === 0) awaitingGroupWord = true;
      depth++;
      i++;
      continue;
    }
    if (c === 41) {
      depth = Math.max(0, depth - 1);
      i++;
      continue;
    }
    if (c === 59) {
      afterSemicolon = true;
      i++;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toUpperCase();
      firstWord ??= word;
      if (depth === 0 && topWords.length < MAX_TOP_WORDS) topWords.push(word);
      else if (awaitingGroupWord) groupFirstWords.push(word);
      awaitingGroupWord = false;
      i = j;
      continue;
    }
    if (depth > 0 && c !== 40) awaitingGroupWord = false;
    i++;
  }
  return { firstWord, topWords, groupFirstWords, multiStatement: false };
}

/** `'` at i opens an E'…' string when preceded by a lone e/E (not the end of a longer identifier). */
function isEscapeString(sql: string, i: number): boolean {
  const p = sql.charCodeAt(i - 1);
  if (p !== 69 && p !== 101) return false;
  return i < 2 || !isIdentPart(sql.charCodeAt(i - 2));
}

function skipQuoted(sql: string, start: number, quote: number, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

/** For `$` at i: the index of the closing `$` of a `$tag$` opener, or -1 ($1 parameters, a$b names). */
function dollarTagEnd(sql: string, i: number): number {
  if (i > 0 && isIdentPart(sql.charCodeAt(i - 1))) return -1;
  let j = i + 1;
  if (j < sql.length && sql.charCodeAt(j) === 36) return j;
  if (j >= sql.length || !isIdentStart(sql.charCodeAt(j))) return -1;
  while (j < sql.length && isIdentPart(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 36) j++;
  return sql.charCodeAt(j) === 36 ? j : -1;
}

function classify(s: Scan): Operation {
  const first = s.firstWord;
  if (first === undefined) return 'query';
  if (first === 'WITH') {
    if (s.groupFirstWords.some((w) => MODIFYING.has(w))) return 'execute';
    const main = s.topWords.slice(1).find((w) => MAIN_AFTER_WITH.has(w));
    return main !== undefined && MODIFYING.has(main) ? 'execute' : 'query';
  }
  if (QUERY.has(first)) return 'query';
  if (EXECUTE.has(first)) return 'execute';
  if (TRANSACTION.has(first)) return 'transaction';
  if (DDL.has(first)) return 'ddl';
  // Unknown verbs: never guessed as a read, so nothing unknown is ever retried.
  return 'execute';
}

const cache = new Map<string, SqlHint>();
const CACHE_MAX = 512;
const CACHE_TEXT_MAX = 4096;

/**
 * Guess the operation for a SQL string (DESIGN §4): a keyword sniff after comments, whitespace,
 * parentheses and any WITH clause. SELECT/VALUES/TABLE/SHOW → query; INSERT/UPDATE/DELETE/MERGE
 * (or a data-modifying CTE) → execute; BEGIN/COMMIT/SAVEPOINT/SET/… → transaction;
 * CREATE/ALTER/DROP/… → ddl. Several statements are flagged so the caller can send them as one
 * `transaction {sql}` when there are no parameters.
 */
export function guessOperation(sql: string): SqlHint {
  const hit = cache.get(sql);
  if (hit !== undefined) return hit;
  const s = scan(sql);
  const hint: SqlHint = { operation: classify(s), multiStatement: s.multiStatement };
  if (sql.length <= CACHE_TEXT_MAX) {
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(sql, hint);
  }
  return hint;
}
