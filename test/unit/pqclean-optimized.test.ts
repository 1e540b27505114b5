import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNobleBackend, expandSeeds } from '../../src/crypto/noble-backend.js';
import { isMlKem768PublicKey } from '../../src/crypto/ml-kem-public-key.js';
import { loadOptimizedPqclean, missingCpuFeatures, OPTIMIZED_ADDON_PATH } from '../../src/crypto/pqclean-optimized.js';

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

  it('refuses a detached or shared buffer instead of reading it as empty or while it may change', () => {
    const detached = new Uint8Array(new ArrayBuffer(16));
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(detached.length).toBe(0);
    // Read as empty, a detached message or context would be signed as the empty one.
    expect(() => addon.mldsa65Sign(dsa.secretKey, detached)).toThrow(TypeError);
    expect(() => addon.mldsa65Sign(dsa.secretKey, msg, detached)).toThrow(TypeError);
    expect(() => addon.mldsa65Verify(dsa.publicKey, msg, detached)).toThrow(TypeError);
    const shared = new Uint8Array(new SharedArrayBuffer(kem.publicKey.length));
    shared.set(kem.publicKey);
    expect(() => addon.mlkem768Encapsulate(shared)).toThrow(TypeError);
    // An empty message that is really empty is fine.
    expect(addon.mldsa65Verify(dsa.publicKey, new Uint8Array(0), addon.mldsa65Sign(dsa.secretKey, new Uint8Array(0)))).toBe(true);
  });

  it('refuses to encapsulate to a public key that fails the FIPS 203 modulus check, as noble and the registration check do', () => {
    expect(isMlKem768PublicKey(kem.publicKey)).toBe(true);
    // Coefficient j of the first polynomial, set to `value` (12 bits, little-endian pairs in 3 bytes).
    const withCoefficient = (j: number, value: number) => {
      const pk = Uint8Array.from(kem.publicKey);
      const at = Math.floor(j / 2) * 3;
      if (j % 2 === 0) {
        pk[at] = value & 0xff;
        pk[at + 1] = ((pk[at + 1] ?? 0) & 0xf0) | (value >> 8);
      } else {
        pk[at + 1] = ((pk[at + 1] ?? 0) & 0x0f) | ((value & 0x0f) << 4);
        pk[at + 2] = value >> 4;
      }
      return pk;
    };
    for (const j of [0, 1, 510, 767]) {
      const highest = withCoefficient(j, 3328);
      expect(isMlKem768PublicKey(highest)).toBe(true);
      expect(() => addon.mlkem768Encapsulate(highest)).not.toThrow();
      const bad = withCoefficient(j, 3329);
      expect(isMlKem768PublicKey(bad)).toBe(false);
      expect(() => addon.mlkem768Encapsulate(bad)).toThrow(/modulus check/);
      expect(() => noble.kemEncapsulate(bad)).toThrow();
    }
    // rho (the last 32 bytes) is any bytes.
    const rho = Uint8Array.from(kem.publicKey);
    rho.fill(0xff, 1152);
    expect(isMlKem768PublicKey(rho)).toBe(true);
    expect(isMlKem768PublicKey(kem.publicKey.subarray(1))).toBe(false);
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

// PQClean ignores its random generator's return value: had the binding kept PQClean's own
// randombytes, a failing getrandom would make every encapsulation the same (seen in review with
// such a shim). The binding's generator records the failure and the call throws instead.
const compiler = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return 'cc';
  } catch {
    return undefined;
  }
})();
describe.skipIf(process.platform !== 'linux' || compiler === undefined)('optimized PQClean build: a failing system random generator', () => {
  it('makes signing and encapsulation throw QS_PQC_RANDOM, never answer with predictable bytes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qs-rng-'));
    try {
      writeFileSync(
        path.join(dir, 'shim.c'),
        '#include <errno.h>\n#include <sys/types.h>\nssize_t getrandom(void *b, size_t n, unsigned f) { (void)b; (void)n; (void)f; errno = ENOSYS; return -1; }\n',
      );
      execFileSync(compiler!, ['-shared', '-fPIC', '-o', path.join(dir, 'shim.so'), path.join(dir, 'shim.c')]);
      const dsa = expandSeeds.dsa(new Uint8Array(32).fill(3));
      const kem = expandSeeds.kem(new Uint8Array(64).fill(5));
      const script = `
        const q = require(${JSON.stringify(OPTIMIZED_ADDON_PATH)});
        const hex = (s) => Buffer.from(s, 'hex');
        const outcome = (f) => { try { return { value: Buffer.from(f()).toString('hex') }; } catch (e) { return { code: e.code }; } };
        const pk = hex(${JSON.stringify(Buffer.from(kem.publicKey).toString('hex'))});
        const sk = hex(${JSON.stringify(Buffer.from(dsa.secretKey).toString('hex'))});
        process.stdout.write(JSON.stringify({
          encapsulate: [outcome(() => q.mlkem768Encapsulate(pk).sharedSecret), outcome(() => q.mlkem768Encapsulate(pk).sharedSecret)],
          sign: outcome(() => q.mldsa65Sign(sk, Buffer.from('m'))),
        }));`;
      const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, LD_PRELOAD: path.join(dir, 'shim.so') }, encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      const result = JSON.parse(child.stdout) as { encapsulate: Array<{ code?: string }>; sign: { code?: string } };
      expect(result.encapsulate).toEqual([{ code: 'QS_PQC_RANDOM' }, { code: 'QS_PQC_RANDOM' }]);
      expect(result.sign).toEqual({ code: 'QS_PQC_RANDOM' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
