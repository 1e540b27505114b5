/**
 * Batch sealing (DESIGN §8 "opportunistic batch signing"): many prepared envelopes, one ML-DSA-65
 * signature. The Merkle tree and message are defined in ./merkle.ts; opening is openEnvelope's.
 */
import { getCryptoBackend } from '../crypto/select-backend.js';
import { toBase64 } from './bytes.js';
import { prepareEnvelope, type HybridCryptoEnvelope, type PrepareDependencies, type PreparedEnvelope, type SealEnvelopeInput } from './envelope.js';
import { buildMerkleTree, merkleLeafHash, merkleRootMessage } from './merkle.js';
import type { WireEnvelope } from './wire-envelope.js';

/** What one ML-DSA-65 signature must cover for a batch, and how to hand it out. */
export interface BatchSigningPlan {
  /** The message to sign: the lone envelope's `signed`, or canonical("QSROOT2", root, size). */
  readonly message: Buffer;
  /** Every envelope of the batch, in input order, completed with that signature. */
  finish(pqcSignature: Uint8Array): WireEnvelope[];
}

/**
 * Plans the signature for a batch of envelopes prepared for the same signing key. A batch of one
 * is exactly the single format (no `merkle` field, signature over `signed`), so an idle server's
 * envelopes are byte-for-byte what sealEnvelope makes; two or more get a tree, and each envelope
 * its `signature.merkle` proof.
 */
export function planBatchSignature(prepared: ReadonlyArray<PreparedEnvelope>): BatchSigningPlan {
  const first = prepared[0];
  if (first === undefined) throw new RangeError('a batch needs at least one envelope');
  if (prepared.some((p) => p.signerKeyId !== first.signerKeyId)) throw new Error('a batch must not mix signing keys');
  if (prepared.length === 1) return { message: first.signed, finish: (sig) => [first.finish(sig)] };
  const size = prepared.length;
  const tree = buildMerkleTree(prepared.map((p) => merkleLeafHash(p.signed)));
  return {
    message: merkleRootMessage(tree.root, size),
    finish: (sig) => prepared.map((p, index) => p.finish(sig, { index, size, path: (tree.paths[index] ?? []).map(toBase64) })),
  };
}

/**
 * Seal several envelopes with one ML-DSA-65 signature, synchronously on this thread: the
 * deterministic building block for vectors and tests. The server uses BatchSigner
 * (src/server/signing), which forms batches on its own and signs off the event loop.
 */
export async function sealEnvelopeBatch(inputs: ReadonlyArray<SealEnvelopeInput>, deps: PrepareDependencies = {}): Promise<HybridCryptoEnvelope[]> {
  const backend = deps.backend ?? getCryptoBackend();
  const first = inputs[0];
  if (first === undefined) throw new RangeError('a batch needs at least one envelope');
  if (inputs.some((i) => !Buffer.from(i.signer.secretKey).equals(Buffer.from(first.signer.secretKey)))) throw new Error('a batch must not mix signing keys');
  const prepared: PreparedEnvelope[] = [];
  // In order, so injected randomness (known-answer vectors) is consumed deterministically.
  for (const input of inputs) prepared.push(await prepareEnvelope(input, { ...deps, backend }));
  const plan = planBatchSignature(prepared);
  return plan.finish(backend.dsaSign(first.signer.secretKey, plan.message)).map((e) => e.toJSON());
}
