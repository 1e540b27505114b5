/**
 * Tampering with batch-signed envelopes (DESIGN §8): the Merkle proof in `signature.merkle` sits
 * outside the signed bytes, so every part of it must still be bound — through the root the path
 * leads to and the size ML-DSA-65 signs. Each case runs with no root cache and with a cache that
 * already holds the genuine batch's root, so a cache hit can never wave a forgery through.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { openEnvelope, sealEnvelope, type HybridCryptoEnvelope, type OpenEnvelopeOptions } from '../../src/protocol/envelope.js';
import { EnvelopeVerificationError } from '../../src/protocol/errors.js';
import { MerkleRootCache } from '../../src/protocol/merkle-root-cache.js';
import { sealEnvelopeBatch } from '../../src/protocol/merkle-seal.js';
import { envelopeFixture } from '../helpers/envelope-fixture.js';

const fx = await envelopeFixture();
const reqIds = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `req_${prefix}${i}`);
const seal = (ids: string[]) => sealEnvelopeBatch(ids.map((id) => ({ ...fx.sealInput, payload: { id }, context: { ...fx.sealInput.context, request_id: id } })), { backend: fx.openOptions.backend! });
const openFor = (requestId: string): OpenEnvelopeOptions => ({ ...fx.openOptions, requestId });

// Five leaves: index 2 has a full path (3 siblings), index 4 is the promoted right edge (1 sibling).
const idsA = reqIds('a', 5);
const idsB = reqIds('b', 5);
const batchA = await seal(idsA);
const batchB = await seal(idsB);
const single = await sealEnvelope({ ...fx.sealInput, context: { ...fx.sealInput.context, request_id: 'req_single' } }, { backend: fx.openOptions.backend! });

const flipB64 = (s: string, at = 0) => {
  const b = Buffer.from(s, 'base64');
  b[at] = (b[at] as number) ^ 0x01;
  return b.toString('base64');
};
const merkleOf = (e: HybridCryptoEnvelope) => e.signature.merkle!;
type Tamper = [name: string, victim: number, tamper: (e: HybridCryptoEnvelope) => void];

function tamperings(): Tamper[] {
  const out: Tamper[] = [];
  for (const victim of [2, 4]) {
    const size = merkleOf(batchA[victim]!).size;
    const pathLen = merkleOf(batchA[victim]!).path.length;
    out.push(
      [`index + 1 (leaf ${victim})`, victim, (e) => void (merkleOf(e).index = (merkleOf(e).index + 1) % size)],
      [`index - 1 (leaf ${victim})`, victim, (e) => void (merkleOf(e).index = (merkleOf(e).index + size - 1) % size)],
      [`index = size (leaf ${victim})`, victim, (e) => void (merkleOf(e).index = size)],
      [`index negative (leaf ${victim})`, victim, (e) => void (merkleOf(e).index = -1)],
      [`index fractional (leaf ${victim})`, victim, (e) => void (merkleOf(e).index = merkleOf(e).index + 0.5)],
      [`index as string (leaf ${victim})`, victim, (e) => void ((merkleOf(e) as unknown as Record<string, unknown>).index = String(merkleOf(e).index))],
      [`size + 1 (leaf ${victim})`, victim, (e) => void (merkleOf(e).size += 1)],
      [`size - 1 (leaf ${victim})`, victim, (e) => void (merkleOf(e).size -= 1)],
      [`size 1 (leaf ${victim})`, victim, (e) => void (merkleOf(e).size = 1)],
      [`size 2^20 (leaf ${victim})`, victim, (e) => void (merkleOf(e).size = 2 ** 20)],
      [`path shortened (leaf ${victim})`, victim, (e) => void merkleOf(e).path.pop()],
      [`path extended (leaf ${victim})`, victim, (e) => void merkleOf(e).path.push(Buffer.alloc(32).toString('base64'))],
      [`path element truncated (leaf ${victim})`, victim, (e) => void (merkleOf(e).path[0] = Buffer.alloc(31).toString('base64'))],
      [`path element not base64 (leaf ${victim})`, victim, (e) => void (merkleOf(e).path[0] = '!'.repeat(44))],
      [`merkle gains a key (leaf ${victim})`, victim, (e) => void ((merkleOf(e) as unknown as Record<string, unknown>).extra = 1)],
      [`merkle null (leaf ${victim})`, victim, (e) => void ((e.signature as unknown as Record<string, unknown>).merkle = null)],
      [`merkle stripped (leaf ${victim})`, victim, (e) => void delete e.signature.merkle],
      [`root signature from another batch (leaf ${victim})`, victim, (e) => void (e.signature.pqc_signature = batchB[victim]!.signature.pqc_signature)],
      [`root signature bit (leaf ${victim})`, victim, (e) => void (e.signature.pqc_signature = flipB64(e.signature.pqc_signature, 100))],
      // Borrowing another batch's root: its proof and signature are genuine, just not for this leaf.
      [`proof and signature of another batch (leaf ${victim})`, victim, (e) => void (e.signature = { ...e.signature, merkle: structuredClone(merkleOf(batchB[victim]!)), pqc_signature: batchB[victim]!.signature.pqc_signature })],
      // The same from a sibling of the same batch: genuine root, genuine signature, wrong leaf.
      [`merkle of another envelope of the batch (leaf ${victim})`, victim, (e) => void (e.signature.merkle = structuredClone(merkleOf(batchA[victim === 2 ? 3 : 0]!)))],
    );
    for (let k = 0; k < pathLen; k++) {
      out.push([`path[${k}] bit flipped (leaf ${victim})`, victim, (e) => void (merkleOf(e).path[k] = flipB64(merkleOf(e).path[k]!, 31))]);
    }
    if (pathLen >= 2) out.push([`path[0] and path[1] swapped (leaf ${victim})`, victim, (e) => void merkleOf(e).path.reverse()]);
  }
  return out;
}

describe('batch-signed envelopes resist tampering with the Merkle proof', () => {
  it('the batches are what the cases assume', async () => {
    expect(batchA.map((e) => merkleOf(e).index)).toEqual([0, 1, 2, 3, 4]);
    expect(batchA.map((e) => merkleOf(e).path.length)).toEqual([3, 3, 3, 3, 1]);
    expect(new Set(batchA.map((e) => e.signature.pqc_signature)).size).toBe(1);
    expect(batchA[0]!.signature.pqc_signature).not.toBe(batchB[0]!.signature.pqc_signature);
    expect(tamperings().length).toBe(47);
    // Pristine: every envelope opens, with and without a cache.
    const cache = new MerkleRootCache();
    for (const [i, e] of batchA.entries()) {
      await expect(openEnvelope(e, openFor(idsA[i]!))).resolves.toEqual({ id: idsA[i] });
      await expect(openEnvelope(e, { ...openFor(idsA[i]!), rootCache: cache })).resolves.toEqual({ id: idsA[i] });
    }
    expect(cache.size).toBe(1);
  });

  for (const [name, victim, tamper] of tamperings()) {
    it(`refuses: ${name}`, async () => {
      const env = structuredClone(batchA[victim]!);
      tamper(env);
      const opts = openFor(idsA[victim]!);
      await expect(openEnvelope(env, opts)).rejects.toBeInstanceOf(EnvelopeVerificationError);
      // A cache warm with both genuine roots changes nothing.
      const rootCache = new MerkleRootCache();
      await openEnvelope(batchA[victim]!, { ...opts, rootCache });
      await openEnvelope(batchB[victim]!, { ...openFor(idsB[victim]!), rootCache });
      await expect(openEnvelope(env, { ...opts, rootCache })).rejects.toBeInstanceOf(EnvelopeVerificationError);
      // …and a refused envelope leaves nothing new in it.
      expect(rootCache.size).toBe(2);
    });
  }

  it('refuses a single-format envelope dressed up with a Merkle proof', async () => {
    const env = structuredClone(single);
    env.signature.merkle = structuredClone(merkleOf(batchA[0]!));
    await expect(openEnvelope(env, openFor('req_single'))).rejects.toBeInstanceOf(EnvelopeVerificationError);
    await expect(openEnvelope(single, openFor('req_single'))).resolves.toBeDefined();
  });

  it('computes both the ML-DSA and the HMAC check even when the path has the wrong shape', async () => {
    const seen: string[] = [];
    const listener = (m: unknown) => seen.push((m as { check: string }).check);
    subscribe('quantaseal:envelope:check', listener);
    try {
      const env = structuredClone(batchA[2]!);
      merkleOf(env).path.pop();
      await expect(openEnvelope(env, { ...openFor(idsA[2]!), rootCache: new MerkleRootCache() })).rejects.toBeInstanceOf(EnvelopeVerificationError);
      expect(seen).toEqual(['ml-dsa-65', 'hmac-sha-512']);
    } finally {
      unsubscribe('quantaseal:envelope:check', listener);
    }
  });
});
