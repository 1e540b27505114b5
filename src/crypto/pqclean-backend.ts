import { createRequire } from 'node:module';
import path from 'node:path';
import type { CryptoBackend } from './backend.js';
import { expandSeeds } from './noble-backend.js';
import { SeedCache } from './seed-cache.js';

/** The slice of pqclean's classic API we use (synchronous when no callback is given). */
interface PqcleanKem {
  generateKey(publicKey: Uint8Array): { key: Uint8Array; encryptedKey: Uint8Array };
  decryptKey(privateKey: Uint8Array, encryptedKey: Uint8Array): Uint8Array;
}
interface PqcleanSign {
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}
interface PqcleanModule {
  KEM: new (algorithm: string) => PqcleanKem;
  Sign: new (algorithm: string) => PqcleanSign;
}

export type PqcleanVariant = 'native' | 'wasm';

const require = createRequire(import.meta.url);

function loadPqclean(variant: PqcleanVariant): PqcleanModule {
  const root = path.dirname(require.resolve('pqclean/package.json'));
  if (variant === 'native') {
    // Load the compiled addon directly: pqclean's own entry silently falls back to WASM
    // (with a process warning), and we want to know which one we run.
    return require(path.join(root, 'build', 'Release', 'node_pqclean.node')) as PqcleanModule;
  }
  return require(path.join(root, 'wasm', 'index.js')) as PqcleanModule;
}

/**
 * The fast path: PQClean's C implementations, as pqclean's native addon or its bundled WASM.
 *
 * pqclean takes expanded FIPS secret keys, so seeds are expanded once with the reference
 * implementation and cached. Its ML-DSA binding signs with the empty context string only
 * (PQCLEAN_MLDSA65_CLEAN_crypto_sign_signature); a non-empty context is refused rather than
 * silently ignored, which would produce signatures no other backend accepts.
 *
 * Throws if the requested variant cannot be loaded; the selector treats that as "unavailable".
 */
export function createPqcleanBackend(variant: PqcleanVariant = 'native'): CryptoBackend {
  const mod = loadPqclean(variant);
  const kem = new mod.KEM('ml-kem-768');
  const sign = new mod.Sign('ml-dsa-65');
  const kemKeys = new SeedCache<{ publicKey: Uint8Array; secretKey: Uint8Array }>();
  const dsaKeys = new SeedCache<{ publicKey: Uint8Array; secretKey: Uint8Array }>();
  const kemKey = (seed: Uint8Array) => kemKeys.get(seed, () => expandSeeds.kem(seed));
  const dsaKey = (seed: Uint8Array) => dsaKeys.get(seed, () => expandSeeds.dsa(seed));
  const refuseContext = (context: Uint8Array | undefined) => {
    if (context !== undefined && context.length > 0) {
      throw new Error('pqclean backend: ML-DSA context strings are not supported by the pqclean binding');
    }
  };
  return {
    name: 'pqclean',
    detail: variant === 'native' ? 'pqclean native addon' : 'pqclean WebAssembly',
    kemPublicKey: (seed) => kemKey(seed).publicKey,
    kemEncapsulate: (publicKey) => {
      const { key, encryptedKey } = kem.generateKey(publicKey);
      return { cipherText: new Uint8Array(encryptedKey), sharedSecret: new Uint8Array(key) };
    },
    kemDecapsulate: (seed, cipherText) => new Uint8Array(kem.decryptKey(kemKey(seed).secretKey, cipherText)),
    dsaPublicKey: (seed) => dsaKey(seed).publicKey,
    dsaSign: (seed, message, context) => {
      refuseContext(context);
      return new Uint8Array(sign.sign(dsaKey(seed).secretKey, message));
    },
    dsaVerify: (publicKey, message, signature, context) => {
      if (context !== undefined && context.length > 0) return false;
      try {
        return sign.verify(publicKey, message, signature) === true;
      } catch {
        return false;
      }
    },
  };
}
