import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMerkleTree, merkleLeafHash, merkleNodeHash, merkleRootFromPath, merkleRootMessage } from '../../src/protocol/merkle.js';
import { MerkleRootCache } from '../../src/protocol/merkle-root-cache.js';

const leaves = (n: number) => Array.from({ length: n }, (_, i) => merkleLeafHash(Buffer.from(`envelope ${i}`)));
const sha = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

/** What openEnvelope accepts: the walk reaches the signed root message (root and size). */
function accepted(leaf: Buffer, index: number, size: number, path: Buffer[], signedRoot: Buffer, signedSize: number): boolean {
  const root = merkleRootFromPath(leaf, index, size, path);
  return root !== null && merkleRootMessage(root, size).equals(merkleRootMessage(signedRoot, signedSize));
}

describe('Merkle tree (RFC 9162 shape, RFC 6962 domain separation)', () => {
  it('hashes leaves and nodes with distinct prefixes', () => {
    const signed = Buffer.from('signed bytes');
    // canonical("QSLEAF2", signed) = u32be(7) "QSLEAF2" u32be(len) signed
    const canonicalLeaf = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('QSLEAF2'), Buffer.from([0, 0, 0, signed.length]), signed]);
    expect(merkleLeafHash(signed)).toEqual(sha(Buffer.from([0]), canonicalLeaf));
    const [a, b] = leaves(2) as [Buffer, Buffer];
    expect(merkleNodeHash(a, b)).toEqual(sha(Buffer.from([1]), a, b));
    expect(merkleNodeHash(a, b)).not.toEqual(merkleNodeHash(b, a));
  });

  it('builds the RFC 9162 shape: split at the largest power of two below n', () => {
    const [a, b, c, d, e] = leaves(5) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const ab = merkleNodeHash(a, b);
    const cd = merkleNodeHash(c, d);
    expect(buildMerkleTree([a]).root).toEqual(a);
    expect(buildMerkleTree([a, b]).root).toEqual(ab);
    expect(buildMerkleTree([a, b, c]).root).toEqual(merkleNodeHash(ab, c));
    const five = buildMerkleTree([a, b, c, d, e]);
    expect(five.root).toEqual(merkleNodeHash(merkleNodeHash(ab, cd), e));
    // Audit paths, the leaf's sibling first.
    expect(five.paths[0]).toEqual([b, cd, e]);
    expect(five.paths[3]).toEqual([c, ab, e]);
    expect(five.paths[4]).toEqual([merkleNodeHash(ab, cd)]);
    expect(() => buildMerkleTree([])).toThrow(RangeError);
  });

  it('signs a message that names the root and the size', () => {
    const root = Buffer.alloc(32, 7);
    expect(merkleRootMessage(root, 3)).toEqual(Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('QSROOT2'), Buffer.from([0, 0, 0, 32]), root, Buffer.from([0, 0, 0, 1]), Buffer.from('3')]));
    expect(merkleRootMessage(root, 3)).not.toEqual(merkleRootMessage(root, 4));
  });

  it('property: every leaf of every tree of 1..300 leaves proves inclusion', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), (n) => {
        const ls = leaves(n);
        const tree = buildMerkleTree(ls);
        ls.forEach((leaf, i) => {
          const path = tree.paths[i] as Buffer[];
          expect(path.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
          expect(accepted(leaf, i, n, path, tree.root, n)).toBe(true);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('property: any single-bit change to the path, the index or the size is refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }).chain((n) => fc.tuple(fc.constant(n), fc.nat({ max: n - 1 }), fc.nat(), fc.nat({ max: 255 }), fc.nat({ max: 20 }))),
        ([n, i, pick, bytePick, bitPick]) => {
          const ls = leaves(n);
          const tree = buildMerkleTree(ls);
          const leaf = ls[i] as Buffer;
          const path = tree.paths[i] as Buffer[];
          expect(accepted(leaf, i, n, path, tree.root, n)).toBe(true);
          // A bit of one path element.
          const bad = path.map((p) => Buffer.from(p));
          const el = bad[pick % bad.length] as Buffer;
          el[bytePick % 32] = (el[bytePick % 32] as number) ^ (1 << (bitPick % 8));
          expect(accepted(leaf, i, n, bad, tree.root, n)).toBe(false);
          // A bit of the index or of the size (the size is signed: the message must match).
          const flip = (v: number) => v ^ (1 << bitPick);
          expect(accepted(leaf, flip(i), n, path, tree.root, n)).toBe(false);
          expect(accepted(leaf, i, flip(n), path, tree.root, n)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a path one too short or one too long, and an index out of range', () => {
    const ls = leaves(13);
    const tree = buildMerkleTree(ls);
    for (let i = 0; i < 13; i++) {
      const path = tree.paths[i] as Buffer[];
      expect(merkleRootFromPath(ls[i] as Buffer, i, 13, path.slice(0, -1))).toBeNull();
      expect(merkleRootFromPath(ls[i] as Buffer, i, 13, [...path, Buffer.alloc(32)])).toBeNull();
    }
    const path0 = tree.paths[0] as Buffer[];
    for (const index of [-1, 13, 14, 0.5, Number.NaN]) expect(merkleRootFromPath(ls[0] as Buffer, index, 13, path0)).toBeNull();
    expect(merkleRootFromPath(ls[0] as Buffer, 0, 13, [Buffer.alloc(31), ...path0.slice(1)])).toBeNull();
  });

  it('a swapped pair of siblings leads to another root', () => {
    const ls = leaves(8);
    const tree = buildMerkleTree(ls);
    const path = [...(tree.paths[5] as Buffer[])];
    [path[0], path[1]] = [path[1] as Buffer, path[0] as Buffer];
    expect(accepted(ls[5] as Buffer, 5, 8, path, tree.root, 8)).toBe(false);
  });
});

describe('MerkleRootCache', () => {
  it('remembers up to its cap, least recently used out first', () => {
    const cache = new MerkleRootCache(2);
    cache.add('a');
    cache.add('b');
    expect(cache.has('a')).toBe(true); // refreshes a
    cache.add('c'); // evicts b
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([true, false, true]);
    expect(cache.size).toBe(2);
    expect(() => new MerkleRootCache(0)).toThrow(RangeError);
  });

  it('keys on the public key, the root message and the signature, not the key id alone', () => {
    const key = { keyId: 'sk_1', publicKey: Buffer.alloc(1952, 1) };
    const msg = merkleRootMessage(Buffer.alloc(32, 2), 3);
    const sig = Buffer.alloc(3309, 3);
    const base = MerkleRootCache.keyFor(key, msg, sig);
    expect(MerkleRootCache.keyFor({ ...key, publicKey: Buffer.alloc(1952, 9) }, msg, sig)).not.toBe(base);
    expect(MerkleRootCache.keyFor(key, merkleRootMessage(Buffer.alloc(32, 2), 4), sig)).not.toBe(base);
    expect(MerkleRootCache.keyFor(key, msg, Buffer.alloc(3309, 4))).not.toBe(base);
    expect(MerkleRootCache.keyFor({ ...key }, Buffer.from(msg), Buffer.from(sig))).toBe(base);
  });
});
