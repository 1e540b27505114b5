/**
 * The Merkle tree behind opportunistic batch signing (DESIGN §8): one ML-DSA-65 signature over a
 * root covers a batch of envelopes, each carrying its inclusion proof in `signature.merkle`.
 *
 * The tree is RFC 9162's (Certificate Transparency v2, §2.1.1): for n leaves, split at the largest
 * power of two k < n, MTH(D[0:n]) = H(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])). The shape is a function of
 * n alone, so an inclusion proof is exactly determined by (index, size) and the verifier
 * (RFC 9162 §2.1.3.2) rejects a path one element too long or too short for them.
 * Leaves and nodes are domain-separated (0x00 / 0x01 prefixes, RFC 6962 §2.1), so an inner node
 * can never be passed off as a leaf; the leaf input is additionally labelled "QSLEAF2".
 */
import { createHash } from 'node:crypto';
import { canonical } from './bytes.js';

/** SHA-256 output size: every leaf, node, root and path element is this long. */
export const MERKLE_HASH_BYTES = 32;
/** Largest batch an opener accepts; far above any server cap, small enough to bound the work. */
export const MERKLE_MAX_LEAVES = 65_536;
/** Longest path the largest accepted tree can need (ceil(log2(MERKLE_MAX_LEAVES))). */
export const MERKLE_MAX_PATH = 16;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** Leaf hash of one envelope: SHA-256(0x00 ‖ canonical("QSLEAF2", signed)), `signed` being the envelope's canonical signed bytes. */
export function merkleLeafHash(signed: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(canonical('QSLEAF2', signed)).digest();
}

/** Inner node: SHA-256(0x01 ‖ left ‖ right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * The one message ML-DSA-65 signs for a batch: canonical("QSROOT2", root, size in decimal).
 * Its first label differs from the single envelope's "QSENV2/sig", so neither kind of signature
 * can be replayed as the other; the size is signed so it cannot be changed under the same root.
 */
export function merkleRootMessage(root: Uint8Array, size: number): Buffer {
  return canonical('QSROOT2', root, String(size));
}

/** A built tree: its root and, for every leaf in order, its audit path (leaf's sibling first). */
export interface MerkleTree {
  root: Buffer;
  paths: Buffer[][];
}

/** Largest power of two strictly below n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Builds the RFC 9162 tree over `leaves` (leaf hashes, at least one) and every leaf's audit path. */
export function buildMerkleTree(leaves: ReadonlyArray<Buffer>): MerkleTree {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
  // The children are built (and push their own, lower, siblings) before a level pushes its
  // sibling, so each path comes out bottom-up, as the proof lists it.
  const paths: Buffer[][] = leaves.map(() => []);
  const subtree = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leaves[lo] as Buffer;
    const mid = lo + splitPoint(hi - lo);
    const left = subtree(lo, mid);
    const right = subtree(mid, hi);
    for (let i = lo; i < mid; i++) (paths[i] as Buffer[]).push(right);
    for (let i = mid; i < hi; i++) (paths[i] as Buffer[]).push(left);
    return merkleNodeHash(left, right);
  };
  return { root: subtree(0, leaves.length), paths };
}

/**
 * The root that `leaf` at `index` in a tree of `size` leaves hashes up to along `path`, or null
 * when (index, size, path) cannot be a proof in the RFC 9162 tree shape: index out of range, a path
 * too short or too long for that position, an element of the wrong length. RFC 9162 §2.1.3.2.
 */
export function merkleRootFromPath(leaf: Uint8Array, index: number, size: number, path: ReadonlyArray<Uint8Array>): Buffer | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size)) return null;
  if (index < 0 || index >= size || size > MERKLE_MAX_LEAVES || path.length > MERKLE_MAX_PATH) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of path) {
    // Step 1: a sibling left over after reaching the root is a path too long.
    if (sn === 0 || p.length !== MERKLE_HASH_BYTES) return null;
    if ((fn & 1) === 1 || fn === sn) {
      r = merkleNodeHash(p, r);
      // A right-edge node with no right sibling is promoted: skip the levels it rises through.
      while ((fn & 1) === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = merkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 2: the path must end exactly at the root, not below it.
  return sn === 0 ? r : null;
}
