import { describe, expect, it } from 'vitest';
import { ML_DSA_65, ML_KEM_768 } from '../../src/crypto/backend.js';
import { selectBackend, selfTest } from '../../src/crypto/select-backend.js';
import { createNobleBackend } from '../../src/crypto/noble-backend.js';
import { loadableBackends } from '../helpers/crypto-backends.js';

const { backends, missing } = loadableBackends();
const reference = createNobleBackend();
const seed32 = new Uint8Array(32).fill(9);
const seed64 = new Uint8Array(64).fill(4);
const msg = new TextEncoder().encode('interop message');

describe('crypto backends', () => {
  it('loads the native pqclean addon and the optimized build on this machine (CI builds both)', () => {
    // They are the fast path; if this fails the install lost a build step (npm ci runs both).
    expect(missing.filter((m) => m.startsWith('pqclean-native') || m.startsWith('pqclean-optimized'))).toEqual([]);
    expect(backends.map(([n]) => n)).toEqual(expect.arrayContaining(['pqclean-optimized', 'pqclean-native']));
  });

  for (const [signerName, signer] of backends) {
    for (const [verifierName, verifier] of backends) {
      it(`${signerName} signatures verify under ${verifierName}, and a flipped bit does not`, () => {
        const pk = verifier.dsaPublicKey(seed32);
        const sig = signer.dsaSign(seed32, msg);
        expect(sig.length).toBe(ML_DSA_65.signatureBytes);
        expect(pk.length).toBe(ML_DSA_65.publicKeyBytes);
        expect(verifier.dsaVerify(pk, msg, sig)).toBe(true);
        const bad = Uint8Array.from(sig);
        bad[7] = (bad[7] ?? 0) ^ 0x10;
        expect(verifier.dsaVerify(pk, msg, bad)).toBe(false);
        expect(verifier.dsaVerify(pk, new TextEncoder().encode('other'), sig)).toBe(false);
      });

      it(`${signerName} KEM ciphertexts decapsulate under ${verifierName}`, () => {
        const pk = signer.kemPublicKey(seed64);
        const { cipherText, sharedSecret } = signer.kemEncapsulate(pk);
        expect(cipherText.length).toBe(ML_KEM_768.cipherTextBytes);
        expect(Buffer.from(verifier.kemDecapsulate(seed64, cipherText))).toEqual(Buffer.from(sharedSecret));
      });
    }

    it(`${signerName} derives the reference public keys from the same seeds`, () => {
      expect(Buffer.from(signer.dsaPublicKey(seed32))).toEqual(Buffer.from(reference.dsaPublicKey(seed32)));
      expect(Buffer.from(signer.kemPublicKey(seed64))).toEqual(Buffer.from(reference.kemPublicKey(seed64)));
    });

    it(`${signerName} passes the start-up self-test`, () => {
      expect(() => selfTest(signer, reference)).not.toThrow();
    });
  }

  // A backend this runtime cannot load (node:crypto below Node 24) shows up as skipped, not silently absent.
  for (const gap of missing) it.skip(`column not covered on this runtime: ${gap}`, () => {});

  it('noble binds the ML-DSA context string; the pqclean package refuses a non-empty one instead of ignoring it', () => {
    const ctx = new TextEncoder().encode('ctx-a');
    const pk = reference.dsaPublicKey(seed32);
    const sig = reference.dsaSign(seed32, msg, ctx);
    expect(reference.dsaVerify(pk, msg, sig, ctx)).toBe(true);
    expect(reference.dsaVerify(pk, msg, sig)).toBe(false);
    // Either package variant: a WASM-only install (no compiler) must refuse contexts just the same.
    const pq = backends.find(([n]) => n === 'pqclean-native' || n === 'pqclean-wasm')?.[1];
    expect(pq).toBeDefined();
    expect(() => pq!.dsaSign(seed32, msg, ctx)).toThrow(/context/);
    expect(pq!.dsaVerify(pk, msg, sig, ctx)).toBe(false);
  });

  it('the optimized build binds the context string both ways with noble', () => {
    const optimized = backends.find(([n]) => n === 'pqclean-optimized')?.[1];
    expect(optimized).toBeDefined();
    const ctx = new TextEncoder().encode('quantaseal-envelope-v2');
    const pk = reference.dsaPublicKey(seed32);
    const ours = optimized!.dsaSign(seed32, msg, ctx);
    expect(reference.dsaVerify(pk, msg, ours, ctx)).toBe(true);
    expect(reference.dsaVerify(pk, msg, ours)).toBe(false);
    expect(reference.dsaVerify(pk, msg, ours, new TextEncoder().encode('quantaseal-envelope-v3'))).toBe(false);
    const theirs = reference.dsaSign(seed32, msg, ctx);
    expect(optimized!.dsaVerify(pk, msg, theirs, ctx)).toBe(true);
    expect(optimized!.dsaVerify(pk, msg, theirs)).toBe(false);
    // FIPS 204 caps the context at 255 bytes: a longer one is refused, never truncated.
    expect(() => optimized!.dsaSign(seed32, msg, new Uint8Array(256))).toThrow(/255 bytes/);
    expect(optimized!.dsaVerify(pk, msg, theirs, new Uint8Array(256))).toBe(false);
  });

  it('self-test catches a backend that disagrees with the reference', () => {
    const liar = { ...reference, name: 'pqclean' as const, dsaVerify: () => true };
    expect(() => selfTest(liar, reference)).toThrow(/rejects a modified signature/);
    // One that drops the context string it was given.
    const deaf = { ...reference, name: 'pqclean' as const, dsaSign: (seed: Uint8Array, m: Uint8Array) => reference.dsaSign(seed, m) };
    expect(() => selfTest(deaf, reference)).toThrow(/with a context/);
    // One whose implicit rejection returns something else: right for the valid ciphertext (its
    // first decapsulation), an all-zero key for the modified one (its second).
    let decapsulations = 0;
    const lax = {
      ...reference,
      name: 'pqclean' as const,
      kemDecapsulate: (seed: Uint8Array, ct: Uint8Array) => (decapsulations++ === 0 ? reference.kemDecapsulate(seed, ct) : new Uint8Array(32)),
    };
    expect(() => selfTest(lax, reference)).toThrow(/implicit rejection/);
  });

  it('auto selection picks the fastest backend that passes, and forcing works', () => {
    const auto = selectBackend('auto');
    const fastest = auto.candidates.filter((c) => c.ok).sort((a, b) => (a.signMs ?? 0) - (b.signMs ?? 0))[0];
    expect(auto.backend.name).toBe(fastest?.name);
    expect(selectBackend('noble').backend.name).toBe('noble');
    expect(selectBackend('pqclean-wasm').backend.detail).toMatch(/WebAssembly/);
    expect(selectBackend('pqclean-optimized').backend.detail).toMatch(/optimized build/);
    expect(() => selectBackend('bogus' as never)).toThrow(/unknown crypto backend/);
  });
});
