import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openEnvelope } from '../../src/protocol/envelope.js';
import { EnvelopeVerificationError } from '../../src/protocol/errors.js';
import { loadableBackends } from '../helpers/crypto-backends.js';
import { deterministicBackend, makeVector, VECTOR_INPUT } from './envelope-vector.js';

const golden = JSON.parse(readFileSync(new URL('./envelope-v2.json', import.meta.url), 'utf8')) as Awaited<ReturnType<typeof makeVector>>;

describe('golden envelope vector (test/vectors/envelope-v2.json)', () => {
  it('is not empty', () => {
    // A vector file that parsed to nothing would make every check below vacuous.
    expect(golden.envelope.encrypted.ciphertext_data.length).toBeGreaterThan(100);
    expect(golden.keys.signer_key_id).toMatch(/^sk_[0-9a-f]{32}$/);
  });

  it('the current code produces exactly the checked-in bytes', async () => {
    expect(await makeVector()).toEqual(golden);
  });

  for (const [name, backend] of loadableBackends().backends) {
    it(`opens with ${name} to the original payload`, async () => {
      const b = deterministicBackend();
      const v = VECTOR_INPUT;
      const opts = {
        tenantId: v.tenantId,
        requestId: v.requestId,
        requestSha256: v.requestSha256,
        recipient: { keyId: golden.keys.recipient_key_id!, secretKey: v.recipientSeed },
        signingKeys: [{ keyId: golden.keys.signer_key_id!, publicKey: b.dsaPublicKey(v.signerSeed) }],
        hmacKey: Buffer.from(golden.keys.hmac_key!, 'hex'),
        now: () => new Date(v.issuedAt),
        backend,
      };
      await expect(openEnvelope(golden.envelope, opts)).resolves.toEqual(v.payload);
      const flipped = structuredClone(golden.envelope);
      flipped.context.operation = 'execute';
      await expect(openEnvelope(flipped, opts)).rejects.toBeInstanceOf(EnvelopeVerificationError);
    });
  }
});
