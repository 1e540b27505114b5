import { describe, expect, it } from 'vitest';
import { createNobleBackend, expandSeeds } from '../../src/crypto/noble-backend.js';
import { loadOptimizedPqclean, missingCpuFeatures } from '../../src/crypto/pqclean-optimized.js';

const V2_FLAGS = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 popcnt aes xsave avx lahf_lm';

describe('optimized PQClean build: CPU check', () => {
  it('accepts an x86-64-v2 CPU and names what an older one lacks', () => {
    expect(missingCpuFeatures(`processor\t: 0\nflags\t\t: ${V2_FLAGS}\n`, 'x64', 'linux')).toBeNull();
    const core2 = V2_FLAGS.replace(' sse4_2', '').replace(' popcnt', '');
    expect(missingCpuFeatures(`flags\t\t: ${core2}\n`, 'x64', 'linux')).toBe('this CPU lacks x86-64-v2 (popcnt, sse4_2)');
    expect(missingCpuFeatures('', 'x64', 'linux')).toMatch(/lacks x86-64-v2/);
    expect(missingCpuFeatures(undefined, 'x64', 'linux')).toMatch(/cannot read/);
  });

  it('does not ask other architectures and platforms for x86 features (their builds do not use them)', () => {
    expect(missingCpuFeatures(undefined, 'arm64', 'linux')).toBeNull();
    expect(missingCpuFeatures(undefined, 'x64', 'darwin')).toBeNull();
  });

  it('refuses to load a build that is not there', () => {
    expect(() => loadOptimizedPqclean('/nonexistent/qs_pqc.node')).toThrow(/not present/);
  });
});

describe('optimized PQClean build: the addon checks what it is given', () => {
  // PQClean trusts its callers with buffer sizes; the binding must not.
  const addon = loadOptimizedPqclean();
  const noble = createNobleBackend();
  const dsa = expandSeeds.dsa(new Uint8Array(32).fill(3));
  const kem = expandSeeds.kem(new Uint8Array(64).fill(5));
  const msg = new TextEncoder().encode('length checks');

  it('signs and verifies with keys of the right size, and the signature is FIPS 204 bytes noble accepts', () => {
    const sig = addon.mldsa65Sign(dsa.secretKey, msg);
    expect(sig.length).toBe(3309);
    expect(addon.mldsa65Verify(dsa.publicKey, msg, sig)).toBe(true);
    expect(noble.dsaVerify(dsa.publicKey, msg, sig)).toBe(true);
  });

  it('throws a RangeError for a key or ciphertext of the wrong length, a TypeError for a non-byte argument', () => {
    expect(() => addon.mldsa65Sign(dsa.secretKey.subarray(1), msg)).toThrow(RangeError);
    expect(() => addon.mldsa65Sign(dsa.secretKey, 'text' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => addon.mldsa65Sign(new Uint16Array(2016) as unknown as Uint8Array, msg)).toThrow(TypeError);
    expect(() => addon.mldsa65Verify(dsa.publicKey.subarray(0, 100), msg, new Uint8Array(3309))).toThrow(RangeError);
    expect(() => addon.mlkem768Encapsulate(new Uint8Array(1183))).toThrow(RangeError);
    expect(() => addon.mlkem768Decapsulate(kem.secretKey, new Uint8Array(1087))).toThrow(RangeError);
    expect(() => addon.mlkem768Decapsulate(kem.secretKey.subarray(0, 2399), new Uint8Array(1088))).toThrow(RangeError);
    expect(() => (addon.mlkem768Encapsulate as (...a: unknown[]) => unknown)()).toThrow(TypeError);
  });

  it('answers false, not an exception, for a signature of the wrong length or with one flipped bit', () => {
    const sig = addon.mldsa65Sign(dsa.secretKey, msg);
    expect(addon.mldsa65Verify(dsa.publicKey, msg, sig.subarray(0, 3308))).toBe(false);
    expect(addon.mldsa65Verify(dsa.publicKey, msg, Buffer.concat([sig, Buffer.alloc(1)]))).toBe(false);
    const flipped = Buffer.from(sig);
    flipped[1000] = (flipped[1000] ?? 0) ^ 0x01;
    expect(addon.mldsa65Verify(dsa.publicKey, msg, flipped)).toBe(false);
  });

  it('encapsulates to noble and decapsulates noble, with implicit rejection of a modified ciphertext', () => {
    const ours = addon.mlkem768Encapsulate(kem.publicKey);
    expect(Buffer.from(noble.kemDecapsulate(new Uint8Array(64).fill(5), ours.cipherText))).toEqual(ours.sharedSecret);
    const theirs = noble.kemEncapsulate(kem.publicKey);
    expect(addon.mlkem768Decapsulate(kem.secretKey, theirs.cipherText)).toEqual(Buffer.from(theirs.sharedSecret));
    const tampered = Buffer.from(theirs.cipherText);
    tampered[10] = (tampered[10] ?? 0) ^ 0x80;
    const rejected = addon.mlkem768Decapsulate(kem.secretKey, tampered);
    expect(rejected.length).toBe(32);
    expect(rejected).not.toEqual(Buffer.from(theirs.sharedSecret));
    // Implicit rejection is deterministic (FIPS 203: J(z, c)), and noble derives the same value.
    expect(Buffer.from(noble.kemDecapsulate(new Uint8Array(64).fill(5), tampered))).toEqual(rejected);
  });
});
