/**
 * The post-quantum primitives QuantaSeal needs, behind one small interface so that
 * several implementations (pure JS, native, node:crypto) can be swapped and cross-checked.
 *
 * Secret keys are always passed as their FIPS seeds (DESIGN §3):
 *  - ML-KEM-768: the 64-byte d‖z (FIPS 203 §7.1, ML-KEM.KeyGen_internal(d, z))
 *  - ML-DSA-65:  the 32-byte ξ   (FIPS 204 Algorithm 6, ML-DSA.KeyGen_internal(ξ))
 * Public keys, ciphertexts and signatures are the raw FIPS encodings.
 */
export type BackendName = 'noble' | 'pqclean' | 'node';

/** Which implementation exactly: the name, and for pqclean which of its builds. */
export type BackendBuild = 'noble' | 'node' | 'pqclean-optimized' | 'pqclean-native' | 'pqclean-wasm';

export interface KemEncapsulation {
  /** 1088-byte ML-KEM-768 ciphertext. */
  cipherText: Uint8Array;
  /** 32-byte shared secret. */
  sharedSecret: Uint8Array;
}

export interface CryptoBackend {
  readonly name: BackendName;
  /** The build, by which another thread loads the same implementation (a signing worker). */
  readonly build: BackendBuild;
  /** A human-readable note on how the backend is running (e.g. "native addon", "wasm"). */
  readonly detail: string;
  /** ML-KEM-768 public key (1184 B) for a 64-byte seed. */
  kemPublicKey(seed: Uint8Array): Uint8Array;
  /** ML-KEM-768 encapsulation to a public key. */
  kemEncapsulate(publicKey: Uint8Array): KemEncapsulation;
  /** ML-KEM-768 decapsulation with the secret key given by its seed. Implicit rejection per FIPS 203. */
  kemDecapsulate(seed: Uint8Array, cipherText: Uint8Array): Uint8Array;
  /** ML-DSA-65 public key (1952 B) for a 32-byte seed. */
  dsaPublicKey(seed: Uint8Array): Uint8Array;
  /**
   * ML-DSA-65 signature (3309 B), FIPS 204 Algorithm 2 with context string `context`
   * (empty when omitted). Backends that cannot bind a non-empty context throw.
   */
  dsaSign(seed: Uint8Array, message: Uint8Array, context?: Uint8Array): Uint8Array;
  /** ML-DSA-65 verification; returns false for any bad signature, never throws for one. */
  dsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context?: Uint8Array): boolean;
}

export const ML_KEM_768 = {
  seedBytes: 64,
  publicKeyBytes: 1184,
  cipherTextBytes: 1088,
  sharedSecretBytes: 32,
} as const;

export const ML_DSA_65 = {
  seedBytes: 32,
  publicKeyBytes: 1952,
  signatureBytes: 3309,
} as const;
