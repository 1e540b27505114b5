import { describe, expect, it } from 'vitest';
import { ulid } from '../../src/protocol/ids.js';
import { pooledRandomBytes } from '../../src/protocol/random-pool.js';

describe('pooledRandomBytes', () => {
  it('hands every byte out once: 20,000 draws of 16 bytes (many refills) are all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const b = pooledRandomBytes(16);
      expect(b.length).toBe(16);
      seen.add(Buffer.from(b).toString('hex'));
    }
    expect(seen.size).toBe(20_000);
  });

  it('never rewrites a view it returned: a refill takes a new buffer', () => {
    const views = Array.from({ length: 50 }, () => pooledRandomBytes(12));
    const copies = views.map((v) => Buffer.from(v));
    for (let i = 0; i < 5_000; i++) pooledRandomBytes(12); // ~15 refills
    views.forEach((v, i) => expect(Buffer.from(v).equals(copies[i] as Buffer)).toBe(true));
  });

  it('serves odd sizes across the end of a pool without a short read', () => {
    for (let i = 0; i < 3_000; i++) expect(pooledRandomBytes(1 + (i % 63)).length).toBe(1 + (i % 63));
  });

  it('takes large requests straight from the CSPRNG, in a buffer of their own', () => {
    const big = pooledRandomBytes(1024);
    expect(big.length).toBe(1024);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBeGreaterThanOrEqual(1024);
    expect(new Set(big).size).toBeGreaterThan(200); // not a constant fill
  });

  it('refuses a negative or fractional length', () => {
    expect(() => pooledRandomBytes(-1)).toThrow(RangeError);
    expect(() => pooledRandomBytes(1.5)).toThrow(RangeError);
    expect(pooledRandomBytes(0).length).toBe(0);
  });

  it('gives ULIDs that stay unique and well-formed', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => ulid()));
    expect(ids.size).toBe(10_000);
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
