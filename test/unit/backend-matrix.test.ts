import { describe, expect, it } from 'vitest';
import { ML_DSA_65, ML_KEM_768 } from '../../src/crypto/backend.js';
import { probeNodeBackend } from '../../src/crypto/node-backend.js';
import { pkcs8FromSeed, rawFromSpki, spkiFromRaw } from '../../src/crypto/pq-key-der.js';
import { selectBackend } from '../../src/crypto/select-backend.js';
import { generateRecipientKeyPair, generateSigningKeyPair } from '../../src/protocol/keys.js';
import { loadableBackends, nodeBackendExpected, nodeMajor } from '../helpers/crypto-backends.js';

/*
 * The runtime matrix of issue 9 on top of the pairwise tests in crypto-backends.test.ts and
 * envelope.test.ts (which loop over the same loadableBackends()): the node:crypto backend is
 * present exactly where it must be, keys made by any backend are the same keys in every other,
 * and context strings interoperate between the backends that bind them.
 */
const { backends, missing } = loadableBackends();
const names = backends.map(([n]) => n);
const node = backends.find(([n]) => n === 'node')?.[1];
const msg = new TextEncoder().encode('matrix message');

describe(`runtime matrix on Node ${process.versions.node}: ${names.join(', ')}`, () => {
  it.runIf(nodeBackendExpected)('loads the node:crypto backend on Node >= 24 (CI runs this leg on Node 24)', () => {
    expect(missing.filter((m) => m.startsWith('node:'))).toEqual([]);
    expect(names).toContain('node');
    expect(selectBackend('node').backend.name).toBe('node');
    expect(probeNodeBackend()).toMatchObject({ ok: true });
  });

  it.runIf(!nodeBackendExpected)(
    `Node ${nodeMajor}: no node:crypto column (ML-KEM/ML-DSA need Node >= 24.7); auto selection skips it, forcing it fails loudly`,
    () => {
      expect(names).not.toContain('node');
      const probe = probeNodeBackend();
      expect(probe.ok).toBe(false);
      // Forcing it fails loudly rather than falling back to another backend.
      expect(() => selectBackend('node')).toThrow(/"node" was requested but cannot be used/);
      // auto still works: the node factory's throw just removes it from the candidates.
      expect(selectBackend('auto').candidates.find((c) => c.name === 'node')).toMatchObject({ ok: false });
    },
  );

  for (const [makerName, maker] of backends) {
    it(`a seed made with ${makerName} gives the same public keys in ${names.join(', ')}`, async () => {
      const signing = await generateSigningKeyPair(maker);
      const recipient = await generateRecipientKeyPair(maker);
      expect(signing.publicKey).toHaveLength(ML_DSA_65.publicKeyBytes);
      expect(recipient.publicKey).toHaveLength(ML_KEM_768.publicKeyBytes);
      for (const [, other] of backends) {
        expect(Buffer.from(other.dsaPublicKey(signing.secretKey))).toEqual(Buffer.from(signing.publicKey));
        expect(Buffer.from(other.kemPublicKey(recipient.secretKey))).toEqual(Buffer.from(recipient.publicKey));
      }
    });
  }

  // pqclean signs with the empty context only (its binding refuses others); noble and node bind it.
  const binders = backends.filter(([n]) => n === 'noble' || n === 'node');
  for (const [signerName, signer] of binders) {
    for (const [verifierName, verifier] of binders) {
      it(`${signerName} context-bound signatures verify under ${verifierName} with that context only`, async () => {
        const { secretKey, publicKey } = await generateSigningKeyPair(signer);
        const ctx = new TextEncoder().encode('quantaseal/v2 response');
        const sig = signer.dsaSign(secretKey, msg, ctx);
        expect(verifier.dsaVerify(publicKey, msg, sig, ctx)).toBe(true);
        expect(verifier.dsaVerify(publicKey, msg, sig)).toBe(false);
        expect(verifier.dsaVerify(publicKey, msg, sig, new TextEncoder().encode('quantaseal/v2 request'))).toBe(false);
      });
    }
  }

  it.runIf(node !== undefined)('node backend: malformed inputs give false or a throw, never a wrong answer', () => {
    const seed = new Uint8Array(ML_DSA_65.seedBytes).fill(3);
    const pk = node!.dsaPublicKey(seed);
    const sig = node!.dsaSign(seed, msg);
    expect(node!.dsaVerify(pk.subarray(1), msg, sig)).toBe(false);
    expect(node!.dsaVerify(pk, msg, sig.subarray(1))).toBe(false);
    expect(node!.dsaVerify(pk, msg, sig, new Uint8Array(256))).toBe(false);
    expect(() => node!.dsaSign(seed.subarray(1), msg)).toThrow(/32 bytes/);
    expect(() => node!.kemPublicKey(new Uint8Array(32))).toThrow(/64 bytes/);
    expect(() => node!.kemEncapsulate(new Uint8Array(ML_KEM_768.publicKeyBytes).fill(0xff))).toThrow();
    const kemSeed = new Uint8Array(ML_KEM_768.seedBytes).fill(8);
    expect(() => node!.kemDecapsulate(kemSeed, new Uint8Array(ML_KEM_768.cipherTextBytes - 1))).toThrow(/1088 bytes/);
  });
});

describe('seed-only PKCS#8 and SPKI wrappers', () => {
  it('have the fixed DER shapes OpenSSL 3.5 reads', () => {
    // 30 34 | 02 01 00 | 30 0b 06 09 <id-ml-dsa-65> | 04 22 80 20 <ξ>
    const der = pkcs8FromSeed('ml-dsa-65', new Uint8Array(32).fill(0xab));
    expect(der.toString('hex')).toBe('3034020100300b0609608648016503040312' + '04228020' + 'ab'.repeat(32));
    expect(pkcs8FromSeed('ml-kem-768', new Uint8Array(64))).toHaveLength(86);
    const pk = Uint8Array.from({ length: ML_DSA_65.publicKeyBytes }, (_, i) => i & 0xff);
    const spki = spkiFromRaw('ml-dsa-65', pk);
    expect(spki.subarray(0, 4).toString('hex')).toBe('308207b2');
    expect(Buffer.from(rawFromSpki('ml-dsa-65', spki, ML_DSA_65.publicKeyBytes))).toEqual(Buffer.from(pk));
    expect(() => rawFromSpki('ml-kem-768', spki, ML_DSA_65.publicKeyBytes)).toThrow(/unexpected/);
  });
});
