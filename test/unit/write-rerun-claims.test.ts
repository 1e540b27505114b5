import { describe, expect, it } from 'vitest';
import { WriteRerunClaims } from '../../src/server/proxy/write-rerun-claims.js';

describe('WriteRerunClaims', () => {
  it('grants a key once, refuses it again until ten minutes have passed, and keys apart by tenant, body and slot', () => {
    let now = 1_000_000;
    const claims = new WriteRerunClaims(() => now);
    const key = WriteRerunClaims.keyOf('ten_a', 'ab'.repeat(32), 1);
    expect(claims.claim(key)).toBe(true);
    expect(claims.claim(key)).toBe(false);
    expect(claims.claim(WriteRerunClaims.keyOf('ten_b', 'ab'.repeat(32), 1))).toBe(true);
    expect(claims.claim(WriteRerunClaims.keyOf('ten_a', 'cd'.repeat(32), 1))).toBe(true);
    expect(claims.claim(WriteRerunClaims.keyOf('ten_a', 'ab'.repeat(32), 2))).toBe(true);
    now += 10 * 60_000 - 1;
    expect(claims.claim(key)).toBe(false);
    now += 2;
    expect(claims.claim(key)).toBe(true);
    expect(claims.claim(key)).toBe(false);
  });
});
