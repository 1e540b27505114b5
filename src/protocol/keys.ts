import { randomBytes } from 'node:crypto';
import { ML_DSA_65, ML_KEM_768, type CryptoBackend } from '../crypto/backend.js';
import { getCryptoBackend } from '../crypto/select-backend.js';
import { hkdf, sha256 } from '../crypto/symmetric.js';
import { canonical } from './bytes.js';

/** A key pair in the DESIGN §3 form: raw FIPS public key, secret key as its seed. */
export interface KeyPair {
  keyId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** Key ids name the public key: a prefix and the first 128 bits of SHA-256(public key), hex. */
export function keyIdFor(prefix: 'sk' | 'rk', publicKey: Uint8Array): string {
  return `${prefix}_${sha256(publicKey).subarray(0, 16).toString('hex')}`;
}

/** A fresh ML-DSA-65 signing key pair (the server's); secretKey is the 32-byte seed ξ. */
export async function generateSigningKeyPair(backend: CryptoBackend = getCryptoBackend()): Promise<KeyPair> {
  const seed = new Uint8Array(randomBytes(ML_DSA_65.seedBytes));
  const publicKey = backend.dsaPublicKey(seed);
  return { keyId: keyIdFor('sk', publicKey), publicKey, secretKey: seed };
}

/** A fresh ML-KEM-768 recipient key pair (the client's); secretKey is the 64-byte seed d‖z. */
export async function generateRecipientKeyPair(backend: CryptoBackend = getCryptoBackend()): Promise<KeyPair> {
  const seed = new Uint8Array(randomBytes(ML_KEM_768.seedBytes));
  const publicKey = backend.kemPublicKey(seed);
  return { keyId: keyIdFor('rk', publicKey), publicKey, secretKey: seed };
}

/**
 * The per-tenant response HMAC key both sides derive (DESIGN §3):
 * HKDF-SHA-512(ikm = API key, salt = "quantaseal/v2", info = "response-hmac" ‖ tenant_id), 64 bytes.
 * `‖` is the canonical length-prefixed encoding, so tenant ids cannot run into the label.
 */
export function deriveResponseHmacKey(apiKey: string, tenantId: string): Uint8Array {
  return new Uint8Array(hkdf('sha512', Buffer.from(apiKey, 'utf8'), Buffer.from('quantaseal/v2'), canonical('response-hmac', tenantId), 64));
}
