import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openEnvelope, type OpenEnvelopeOptions } from '../../src/protocol/envelope.js';
import { EnvelopeVerificationError } from '../../src/protocol/errors.js';
import { MerkleRootCache } from '../../src/protocol/merkle-root-cache.js';
import { loadableBackends } from '../helpers/crypto-backends.js';
import { BATCH_SIZE, batchPayload, batchRequestId, deterministicBatchBackend, makeBatchVector } from './envelope-batch-vector.js';
import { VECTOR_INPUT } from './envelope-vector.js';

const golden = JSON.parse(readFileSync(new URL('./envelope-batch-v2.json', import.meta.url), 'utf8')) as Awaited<ReturnType<typeof makeBatchVector>>;
const b64 = (s: string) => Buffer.from(s, 'base64');

describe('golden batch vector (test/vectors/envelope-batch-v2.json)', () => {
  it('is not empty, and is a batch of three under one signature', () => {
    // A vector file that parsed to nothing would make every check below vacuous.
    expect(golden.envelopes).toHaveLength(BATCH_SIZE);
    expect(new Set(golden.envelopes.map((e) => e.signature.pqc_signature)).size).toBe(1);
    expect(golden.envelopes.map((e) => e.signature.merkle)).toEqual([
      { index: 0, size: 3, path: [expect.any(String), expect.any(String)] },
      { index: 1, size: 3, path: [expect.any(String), expect.any(String)] },
      { index: 2, size: 3, path: [expect.any(String)] },
    ]);
  });

  it('the current code produces exactly the checked-in bytes', async () => {
    expect(await makeBatchVector()).toEqual(golden);
  });

  it('has the RFC 9162 three-leaf shape (checked with plain SHA-256, not the code under test)', () => {
    const [e0, e1, e2] = golden.envelopes.map((e) => e.signature.merkle!.path.map(b64)) as [Buffer[], Buffer[], Buffer[]];
    const leaf0 = e1[0]!;
    const leaf1 = e0[0]!;
    // Leaves 0 and 1 share the parent that is leaf 2's sibling; leaf 2 is theirs.
    const parent01 = createHash('sha256').update(Buffer.from([1])).update(leaf0).update(leaf1).digest();
    expect(e2[0]).toEqual(parent01);
    expect(e0[1]).toEqual(e1[1]);
  });

  for (const [name, backend] of loadableBackends().backends) {
    it(`opens with ${name}, with and without a root cache`, async () => {
      const v = VECTOR_INPUT;
      const opts = (i: number): OpenEnvelopeOptions => ({
        tenantId: v.tenantId,
        requestId: batchRequestId(i),
        requestSha256: String(i).repeat(64),
        recipient: { keyId: golden.keys.recipient_key_id!, secretKey: v.recipientSeed },
        signingKeys: [{ keyId: golden.keys.signer_key_id!, publicKey: deterministicBatchBackend().dsaPublicKey(v.signerSeed) }],
        hmacKey: Buffer.from(golden.keys.hmac_key!, 'hex'),
        now: () => new Date(v.issuedAt),
        backend,
      });
      const rootCache = new MerkleRootCache();
      for (const [i, env] of golden.envelopes.entries()) {
        await expect(openEnvelope(env, opts(i))).resolves.toEqual(batchPayload(i));
        await expect(openEnvelope(env, { ...opts(i), rootCache })).resolves.toEqual(batchPayload(i));
      }
      const moved = structuredClone(golden.envelopes[0]!);
      moved.signature.merkle!.index = 1;
      await expect(openEnvelope(moved, { ...opts(0), rootCache })).rejects.toBeInstanceOf(EnvelopeVerificationError);
    });
  }
});
