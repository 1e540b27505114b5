import * as crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ML_DSA_65, ML_KEM_768, type CryptoBackend } from './backend.js';
import { pkcs8FromSeed, rawFromSpki, spkiFromRaw, type PqAlgorithm } from './pq-key-der.js';
import { SeedCache } from './seed-cache.js';

/**
 * The slice of `node:crypto` this backend relies on. Node >= 24.7 with OpenSSL 3.5 has it; the
 * @types/node this package builds against (Node 20) does not describe it, so it is declared here
 * and checked at run time instead.
 */
interface NodePqCrypto {
  createPrivateKey(input: { key: Buffer; format: 'der'; type: 'pkcs8' }): KeyObject;
  createPublicKey(input: { key: Buffer; format: 'der'; type: 'spki' } | KeyObject): KeyObject;
  /** FIPS 204 Algorithm 2 (ML-DSA.Sign, hedged) with context string `context`. */
  sign(algorithm: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }): Buffer;
  verify(algorithm: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }, signature: Uint8Array): boolean;
  /** FIPS 203 Algorithm 20 (ML-KEM.Encaps). */
  encapsulate?: (key: KeyObject) => { sharedKey: Buffer; ciphertext: Buffer };
  /** FIPS 203 Algorithm 21 (ML-KEM.Decaps, implicit rejection). */
  decapsulate?: (key: KeyObject, ciphertext: Uint8Array) => Buffer;
}

interface SeedKey {
  privateKey: KeyObject;
  /** Raw FIPS public key, exported once per seed. */
  publicKey: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const PROBE_CONTEXT = new TextEncoder().encode('quantaseal node backend probe');

function checkLength(what: string, value: Uint8Array, expected: number): void {
  if (!(value instanceof Uint8Array) || value.length !== expected) {
    throw new Error(`node backend: ${what} must be ${expected} bytes`);
  }
}

/**
 * ML-KEM-768 and ML-DSA-65 from the runtime's own OpenSSL (`node:crypto`, Node >= 24.7 built with
 * OpenSSL 3.5). Secret keys enter as their FIPS seeds (DESIGN §3) through a seed-only PKCS#8, so
 * the key the runtime holds is the one every other backend derives from the same seed; public
 * keys, ciphertexts and signatures are the raw FIPS encodings. Imported KeyObjects are cached per
 * seed (hash-keyed, see SeedCache), since importing an ML-DSA seed re-runs key generation.
 *
 * Throws where the runtime lacks the algorithms, or where it would silently drop an ML-DSA context
 * string; the selector treats a throw as "unavailable" (on Node 20 and 22 it always is).
 */
export function createNodeBackend(): CryptoBackend {
  const api = crypto as unknown as NodePqCrypto;
  const { encapsulate, decapsulate } = api;
  if (typeof encapsulate !== 'function' || typeof decapsulate !== 'function') {
    throw new Error(`node backend: node:crypto on Node ${process.versions.node} has no ML-KEM (needs Node >= 24.7 with OpenSSL 3.5)`);
  }

  const importSeed = (alg: PqAlgorithm, seed: Uint8Array, publicKeyBytes: number): SeedKey => {
    const privateKey = api.createPrivateKey({ key: pkcs8FromSeed(alg, seed), format: 'der', type: 'pkcs8' });
    const spki = api.createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    return { privateKey, publicKey: rawFromSpki(alg, spki, publicKeyBytes) };
  };
  const kemSeeds = new SeedCache<SeedKey>();
  const dsaSeeds = new SeedCache<SeedKey>();
  // Public keys are not secret, but the same few (pinned signing keys, registered recipient keys)
  // recur on every call and parsing one costs more than an encapsulation.
  const kemPublic = new SeedCache<KeyObject>();
  const dsaPublic = new SeedCache<KeyObject>();

  const kemKey = (seed: Uint8Array) => {
    checkLength('ML-KEM-768 seed', seed, ML_KEM_768.seedBytes);
    return kemSeeds.get(seed, () => importSeed('ml-kem-768', seed, ML_KEM_768.publicKeyBytes));
  };
  const dsaKey = (seed: Uint8Array) => {
    checkLength('ML-DSA-65 seed', seed, ML_DSA_65.seedBytes);
    return dsaSeeds.get(seed, () => importSeed('ml-dsa-65', seed, ML_DSA_65.publicKeyBytes));
  };
  const publicKeyObject = (cache: SeedCache<KeyObject>, alg: PqAlgorithm, raw: Uint8Array) =>
    cache.get(raw, () => api.createPublicKey({ key: spkiFromRaw(alg, raw), format: 'der', type: 'spki' }));
  // An empty context is FIPS 204's default; pass none so runtimes without the option still work.
  const withContext = (key: KeyObject, context: Uint8Array) => (context.length > 0 ? { key, context } : { key });

  const backend: CryptoBackend = {
    name: 'node',
    build: 'node',
    detail: `node:crypto (Node ${process.versions.node}, OpenSSL ${process.versions.openssl})`,
    kemPublicKey: (seed) => kemKey(seed).publicKey,
    kemEncapsulate: (publicKey) => {
      checkLength('ML-KEM-768 public key', publicKey, ML_KEM_768.publicKeyBytes);
      // OpenSSL runs the FIPS 203 §7.2 modulus check when the key is parsed, and throws, as noble does.
      const { sharedKey, ciphertext } = encapsulate(publicKeyObject(kemPublic, 'ml-kem-768', publicKey));
      return { cipherText: new Uint8Array(ciphertext), sharedSecret: new Uint8Array(sharedKey) };
    },
    kemDecapsulate: (seed, cipherText) => {
      checkLength('ML-KEM-768 ciphertext', cipherText, ML_KEM_768.cipherTextBytes);
      return new Uint8Array(decapsulate(kemKey(seed).privateKey, cipherText));
    },
    dsaPublicKey: (seed) => dsaKey(seed).publicKey,
    dsaSign: (seed, message, context = EMPTY) =>
      new Uint8Array(api.sign(null, message, withContext(dsaKey(seed).privateKey, context))),
    dsaVerify: (publicKey, message, signature, context = EMPTY) => {
      try {
        if (publicKey.length !== ML_DSA_65.publicKeyBytes || signature.length !== ML_DSA_65.signatureBytes) return false;
        return api.verify(null, message, withContext(publicKeyObject(dsaPublic, 'ml-dsa-65', publicKey), context), signature);
      } catch {
        return false;
      }
    },
  };
  probe(backend);
  return backend;
}

/**
 * Fails construction on runtimes that parse the keys but would get the contract wrong: a
 * context string must bind (FIPS 204 §5.2: M' = 0 ‖ |ctx| ‖ ctx ‖ M), never be ignored, since an
 * ignored option is a silent downgrade. The full cross-check against noble is selfTest's job.
 */
function probe(backend: CryptoBackend): void {
  const seed = new Uint8Array(ML_DSA_65.seedBytes).fill(0x5a);
  const message = new TextEncoder().encode('probe');
  let ok: boolean;
  try {
    const publicKey = backend.dsaPublicKey(seed);
    const signature = backend.dsaSign(seed, message, PROBE_CONTEXT);
    ok = backend.dsaVerify(publicKey, message, signature, PROBE_CONTEXT) && !backend.dsaVerify(publicKey, message, signature);
  } catch (err) {
    throw new Error(`node backend: node:crypto on Node ${process.versions.node} cannot use ML-DSA-65 seeds: ${(err as Error).message}`);
  }
  if (!ok) throw new Error(`node backend: node:crypto on Node ${process.versions.node} does not bind ML-DSA context strings`);
}

/** Whether this runtime can run the `node` backend, and if not, why (for benchmarks and diagnostics). */
export function probeNodeBackend(): { ok: true; detail: string } | { ok: false; reason: string } {
  try {
    return { ok: true, detail: createNodeBackend().detail };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
