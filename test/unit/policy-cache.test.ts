import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/server/policy/lru-cache.js';
import { PARSE_CACHE_SIZE, clearParseCache, parseCacheSize, parseSql, ready } from '../../src/server/policy/sql-parse.js';

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
  });
});
