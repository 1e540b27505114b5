import { createRequire } from 'node:module';
import path from 'node:path';
import type { CryptoBackend } from './backend.js';
import { cachedKeyPairs } from './noble-backend.js';
import { loadOptimizedPqclean } from './pqclean-optimized.js';

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

/** `optimized`: quantaseal's own build (pqclean-optimized.ts); `native`/`wasm`: the pqclean package's. */
export type PqcleanVariant = 'optimized' | 'native' | 'wasm';

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

/** The four operations, in raw FIPS key encodings; `sign` throws for a context it cannot bind. */
interface Primitives {
  detail: string;
  sign(secretKey: Uint8Array, message: Uint8Array, context: Uint8Array | undefined): Uint8Array;
  /** Never throws for a bad signature. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: Uint8Array | undefined): boolean;
  encapsulate(publicKey: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(secretKey: Uint8Array, cipherText: Uint8Array): Uint8Array;
}

const hasContext = (context: Uint8Array | undefined): context is Uint8Array => context !== undefined && context.length > 0;

function optimizedPrimitives(): Primitives {
  const addon = loadOptimizedPqclean();
  return {
    detail: `PQClean optimized build (quantaseal: -O3, LTO${process.arch === 'x64' && process.platform === 'linux' ? ', x86-64-v2' : ''})`,
    sign: (secretKey, message, context) => addon.mldsa65Sign(secretKey, message, context),
    verify: (publicKey, message, signature, context) => {
      try {
        return addon.mldsa65Verify(publicKey, message, signature, context);
      } catch {
        return false;
      }
    },
    encapsulate: (publicKey) => addon.mlkem768Encapsulate(publicKey),
    decapsulate: (secretKey, cipherText) => addon.mlkem768Decapsulate(secretKey, cipherText),
  };
}

/**
 * pqclean's binding signs with the empty context string only (PQCLEAN_MLDSA65_CLEAN_crypto_sign_signature);
 * a non-empty context is refused rather than silently ignored, which would produce signatures no
 * other backend accepts.
 */
function packagePrimitives(variant: 'native' | 'wasm'): Primitives {
  const mod = loadPqclean(variant);
  const kem = new mod.KEM('ml-kem-768');
  const sign = new mod.Sign('ml-dsa-65');
  return {
    detail: variant === 'native' ? 'pqclean native addon' : 'pqclean WebAssembly',
    sign: (secretKey, message, context) => {
      if (hasContext(context)) throw new Error('pqclean backend: ML-DSA context strings are not supported by the pqclean binding');
      return new Uint8Array(sign.sign(secretKey, message));
    },
    verify: (publicKey, message, signature, context) => {
      if (hasContext(context)) return false;
      try {
        return sign.verify(publicKey, message, signature) === true;
      } catch {
        return false;
      }
    },
    encapsulate: (publicKey) => {
      const { key, encryptedKey } = kem.generateKey(publicKey);
      return { cipherText: new Uint8Array(encryptedKey), sharedSecret: new Uint8Array(key) };
    },
    decapsulate: (secretKey, cipherText) => new Uint8Array(kem.decryptKey(secretKey, cipherText)),
  };
}

/**
 * The fast path: PQClean's C implementations, as quantaseal's optimized build, pqclean's native
 * addon or its bundled WASM.
 *
 * PQClean takes expanded FIPS secret keys, so seeds are expanded once with the reference
 * implementation and cached.
 *
 * Throws if the requested variant cannot be loaded; the selector treats that as "unavailable".
 */
export function createPqcleanBackend(variant: PqcleanVariant = 'native'): CryptoBackend {
  const primitives = variant === 'optimized' ? optimizedPrimitives() : packagePrimitives(variant);
  const { kem: kemKey, dsa: dsaKey } = cachedKeyPairs();
  return {
    name: 'pqclean',
    build: `pqclean-${variant}`,
    detail: primitives.detail,
    kemPublicKey: (seed) => kemKey(seed).publicKey,
    kemEncapsulate: (publicKey) => primitives.encapsulate(publicKey),
    kemDecapsulate: (seed, cipherText) => primitives.decapsulate(kemKey(seed).secretKey, cipherText),
    dsaPublicKey: (seed) => dsaKey(seed).publicKey,
    dsaSign: (seed, message, context) => primitives.sign(dsaKey(seed).secretKey, message, context),
    dsaVerify: (publicKey, message, signature, context) => primitives.verify(publicKey, message, signature, context),
  };
}
