import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/protocol/lru-cache.js';
import {
  MAX_CACHED_SQL_LENGTH,
  PARSE_CACHE_MAX_BYTES,
  PARSE_CACHE_SIZE,
  clearParseCache,
  parseCacheBytes,
  parseCacheSize,
  parseSql,
  ready,
} from '../../src/server/policy/sql-parse.js';
import { PARAM_MAP_CACHE_MAX_BYTES, clearParamMapCache, mapParameters, paramMapCacheStats } from '../../src/server/tokenize/param-map.js';
import type { TokenizedField } from '../../src/server/tokenize/param-map.js';

/** A valid SELECT of exactly `length` characters, distinct per `tag`. */
function selectOfLength(length: number, tag: number): string {
  const head = `SELECT ${tag} AS n /*`;
  const tail = '*/';
  return head + 'x'.repeat(length - head.length - tail.length) + tail;
}

describe('parseSql cache', () => {
  it('is ready once imported', async () => {
    await expect(ready()).resolves.toBeUndefined();
  });

  it('returns the same frozen object for the same text', () => {
    clearParseCache();
    const a = parseSql('SELECT * FROM users WHERE id = $1');
    const b = parseSql('SELECT * FROM users WHERE id = $1');
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.statements)).toBe(true);
    // A different text (even one space) is a different entry with the same fingerprint.
    const c = parseSql('SELECT * FROM users WHERE id =  $1');
    expect(c).not.toBe(a);
    expect(c.fingerprint).toBe(a.fingerprint);
  });

  it('caches syntax errors too, and rethrows a fresh QsError each time', () => {
    clearParseCache();
    const errors: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      try {
        parseSql('SELEC 1');
      } catch (err) {
        errors.push(err);
      }
    }
    expect(errors).toHaveLength(2);
    expect(errors[0]).not.toBe(errors[1]);
    expect(errors[1]).toMatchObject({ code: 'QS_SQL_SYNTAX', sqlstate: '42601' });
    expect(parseCacheSize()).toBe(1);
  });

  it(`is bounded at ${PARSE_CACHE_SIZE} texts, evicting the least recently used`, () => {
    clearParseCache();
    const first = parseSql('SELECT 0');
    for (let i = 1; i <= PARSE_CACHE_SIZE; i++) parseSql(`SELECT ${i}`);
    expect(parseCacheSize()).toBe(PARSE_CACHE_SIZE);
    // `SELECT 0` was the oldest and has been evicted: parsing again builds a new object.
    expect(parseSql('SELECT 0')).not.toBe(first);
    expect(parseCacheSize()).toBe(PARSE_CACHE_SIZE);
    // The most recent entry is still the cached one.
    expect(parseSql(`SELECT ${PARSE_CACHE_SIZE}`)).toBe(parseSql(`SELECT ${PARSE_CACHE_SIZE}`));
  });
});

describe('parseSql cache memory bound', () => {
  it(`does not cache texts longer than ${MAX_CACHED_SQL_LENGTH} characters, and still parses them`, () => {
    clearParseCache();
    const atLimit = selectOfLength(MAX_CACHED_SQL_LENGTH, 1);
    expect(parseSql(atLimit)).toBe(parseSql(atLimit));
    expect(parseCacheSize()).toBe(1);
    const long = selectOfLength(MAX_CACHED_SQL_LENGTH + 1, 2);
    const a = parseSql(long);
    expect(a.statements).toHaveLength(1);
    // Parsed afresh each time, never stored.
    expect(parseSql(long)).not.toBe(a);
    expect(parseCacheSize()).toBe(1);
  });

  it(`is bounded at ${PARSE_CACHE_MAX_BYTES} estimated bytes, evicting the least recently used`, () => {
    clearParseCache();
    const first = parseSql(selectOfLength(MAX_CACHED_SQL_LENGTH, 0));
    let i = 1;
    // Texts of the largest cached size: the byte bound binds long before the count bound.
    while (parseCacheSize() === i && i < PARSE_CACHE_SIZE) parseSql(selectOfLength(MAX_CACHED_SQL_LENGTH, i++));
    expect(parseCacheSize()).toBeLessThan(i);
    expect(parseCacheSize()).toBeLessThan(PARSE_CACHE_SIZE);
    expect(parseCacheBytes()).toBeLessThanOrEqual(PARSE_CACHE_MAX_BYTES);
    expect(parseCacheBytes()).toBeGreaterThan(PARSE_CACHE_MAX_BYTES / 2);
    // The oldest text was evicted; the newest is still cached.
    expect(parseSql(selectOfLength(MAX_CACHED_SQL_LENGTH, 0))).not.toBe(first);
    const last = selectOfLength(MAX_CACHED_SQL_LENGTH, i - 1);
    expect(parseSql(last)).toBe(parseSql(last));
    clearParseCache();
    expect(parseCacheBytes()).toBe(0);
  });
});

describe('mapParameters cache memory bound', () => {
  const fields: readonly TokenizedField[] = [{ schema: 'public', table: 'users', column: 'email', mode: 'deterministic' }];
  const query = (length: number, tag: number) => {
    const head = `SELECT ${tag} FROM users WHERE email = $1 /*`;
    return head + 'x'.repeat(length - head.length - 2) + '*/';
  };

  it('does not cache the mapping of a text longer than the parse cache limit', () => {
    clearParamMapCache();
    const short = query(200, 1);
    expect(mapParameters(short, fields)).toBe(mapParameters(short, fields));
    expect(paramMapCacheStats().entries).toBe(1);
    const long = query(MAX_CACHED_SQL_LENGTH + 1, 2);
    const a = mapParameters(long, fields);
    expect(a.get(1)?.column).toBe('email');
    expect(mapParameters(long, fields)).not.toBe(a);
    expect(paramMapCacheStats().entries).toBe(1);
  });

  it(`is bounded at ${PARAM_MAP_CACHE_MAX_BYTES} estimated bytes`, () => {
    clearParamMapCache();
    // ~16 KiB a key at 8 Ki characters: about 2,000 entries fit, below the count bound of 5,000.
    for (let i = 0; i < 2_500; i++) mapParameters(query(MAX_CACHED_SQL_LENGTH, i), fields);
    const { entries, bytes } = paramMapCacheStats();
    expect(entries).toBeLessThan(2_500);
    expect(bytes).toBeLessThanOrEqual(PARAM_MAP_CACHE_MAX_BYTES);
    clearParamMapCache();
  });
});

describe('LruCache', () => {
  it('keeps recently read entries and evicts the oldest', () => {
    const lru = new LruCache<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3); // evicts b
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  it('refuses a non-positive bound', () => {
    expect(() => new LruCache(0)).toThrow(RangeError);
    expect(() => new LruCache(1, { maxWeight: 0, weigh: () => 1 })).toThrow(RangeError);
  });

  it('bounds the total weight too, evicting the oldest until a new entry fits', () => {
    const lru = new LruCache<string, string>(100, { maxWeight: 10, weigh: (k, v) => k.length + v.length });
    lru.set('a', 'aaa'); // 4
    lru.set('b', 'bbb'); // 8
    expect(lru.weight).toBe(8);
    lru.set('c', 'ccccc'); // 6: evicts a (8 + 6 > 10, 4 + 6 = 10)
    expect(lru.get('a')).toBeUndefined();
    expect([lru.get('b'), lru.get('c')]).toEqual(['bbb', 'ccccc']);
    expect(lru.weight).toBe(10);
    // Replacing an entry replaces its weight.
    lru.set('c', 'c');
    expect(lru.weight).toBe(6);
    // An entry heavier than the whole bound is not stored, and drops the old value of its key.
    lru.set('b', 'x'.repeat(20));
    expect(lru.get('b')).toBeUndefined();
    expect(lru.weight).toBe(2);
    expect(lru.size).toBe(1);
    lru.clear();
    expect(lru.weight).toBe(0);
  });
});
