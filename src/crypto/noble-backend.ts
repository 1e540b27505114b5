import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { CryptoBackend } from './backend.js';
import { SeedCache } from './seed-cache.js';

const EMPTY = new Uint8Array(0);

type KeyPair = { publicKey: Uint8Array; secretKey: Uint8Array };

/**
 * The reference backend: @noble/post-quantum, audited pure JavaScript, always available.
 * Every other backend is checked against this one at start-up.
 */
export function createNobleBackend(): CryptoBackend {
  const { kem, dsa } = cachedKeyPairs();
  return {
    name: 'noble',
    build: 'noble',
    detail: '@noble/post-quantum (pure JS)',
    kemPublicKey: (seed) => kem(seed).publicKey,
    kemEncapsulate: (publicKey) => ml_kem768.encapsulate(publicKey),
    kemDecapsulate: (seed, cipherText) => ml_kem768.decapsulate(cipherText, kem(seed).secretKey),
    dsaPublicKey: (seed) => dsa(seed).publicKey,
    dsaSign: (seed, message, context = EMPTY) => ml_dsa65.sign(message, dsa(seed).secretKey, { context }),
    dsaVerify: (publicKey, message, signature, context = EMPTY) => {
      try {
        return ml_dsa65.verify(signature, message, publicKey, { context });
      } catch {
        return false;
      }
    },
  };
}

/**
 * Expanded FIPS key pairs from seeds, for backends (pqclean) that cannot derive keys from a seed.
 * @internal
 */
export const expandSeeds = {
  kem: (seed: Uint8Array) => ml_kem768.keygen(seed),
  dsa: (seed: Uint8Array) => ml_dsa65.keygen(seed),
};

/**
 * expandSeeds with each seed expanded once and remembered (SeedCache): what every backend that
 * takes expanded keys needs. One pair of caches per backend instance.
 * @internal
 */
export function cachedKeyPairs(): { kem: (seed: Uint8Array) => KeyPair; dsa: (seed: Uint8Array) => KeyPair } {
  const kemKeys = new SeedCache<KeyPair>();
  const dsaKeys = new SeedCache<KeyPair>();
  return {
    kem: (seed) => kemKeys.get(seed, () => expandSeeds.kem(seed)),
    dsa: (seed) => dsaKeys.get(seed, () => expandSeeds.dsa(seed)),
  };
}

/**
 * Deterministic variants for known-answer vectors: fixed encapsulation randomness and
 * deterministic (non-hedged) signing. Never used on the serving path.
 * @internal
 */
export const nobleDeterministic = {
  kemEncapsulate: (publicKey: Uint8Array, m: Uint8Array) => ml_kem768.encapsulate(publicKey, m),
  dsaSign: (seed: Uint8Array, message: Uint8Array, context: Uint8Array = EMPTY) =>
    ml_dsa65.sign(message, ml_dsa65.keygen(seed).secretKey, { context, extraEntropy: false }),
};
