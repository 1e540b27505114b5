/**
 * mulberry32: a tiny seeded PRNG, so every run picks the same row ids in the same order and two
 * runs (or two targets) load the database identically.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [1, n] from a PRNG. */
export function pickId(rand: () => number, n: number): number {
  return 1 + Math.floor(rand() * n);
}
