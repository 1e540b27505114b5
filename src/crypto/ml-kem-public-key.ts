import { ML_KEM_768 } from './backend.js';

const Q = 3329;
/** The encoded polynomial vector: 384 bytes per polynomial (256 twelve-bit coefficients), k = 3; rho follows. */
const POLYVEC_BYTES = 384 * 3;

/**
 * FIPS 203 §7.2 encapsulation key check for ML-KEM-768: the right length, and every 12-bit
 * coefficient below q (ByteEncode12(ByteDecode12(ek)) = ek). noble refuses to encapsulate to a
 * key that fails it while PQClean reduces silently, so a key is checked once, when it is
 * registered, and every backend then treats it alike.
 */
export function isMlKem768PublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== ML_KEM_768.publicKeyBytes) return false;
  for (let i = 0; i < POLYVEC_BYTES; i += 3) {
    const b0 = publicKey[i] as number;
    const b1 = publicKey[i + 1] as number;
    const b2 = publicKey[i + 2] as number;
    if ((b0 | ((b1 & 0x0f) << 8)) >= Q || ((b1 >> 4) | (b2 << 4)) >= Q) return false;
  }
  return true;
}
