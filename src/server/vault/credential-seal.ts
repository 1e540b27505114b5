import { randomBytes } from 'node:crypto';
import { ML_KEM_768, type CryptoBackend } from '../../crypto/backend.js';
import { AES_GCM, aesGcmDecrypt, aesGcmEncrypt, hkdf, sha256 } from '../../crypto/symmetric.js';
import { canonical } from '../../protocol/bytes.js';
import { QsError } from '../../protocol/errors.js';

const FORMAT_VERSION = 1;

export interface SealBinding {
  tenantId: string;
  credentialId: string;
  version: number;
}

const aad = (b: SealBinding) => canonical('QSVAULT2', b.tenantId, b.credentialId, String(b.version));

function dataKey(sharedSecret: Uint8Array, ctKem: Uint8Array, b: SealBinding): Buffer {
  return hkdf('sha256', sharedSecret, sha256(ctKem), canonical('quantaseal/v2/vault', b.tenantId, b.credentialId, String(b.version)), AES_GCM.keyBytes);
}

/**
 * DESIGN §6: Encaps(vault_pk) → HKDF → AES-256-GCM over the values, AAD = tenant ‖ credential ‖
 * version. Blob: 1 format byte ‖ ML-KEM ciphertext (1088) ‖ nonce (12) ‖ ciphertext ‖ tag.
 */
export function sealCredential(backend: CryptoBackend, vaultPublicKey: Uint8Array, values: Record<string, string>, binding: SealBinding): Buffer {
  const { cipherText, sharedSecret } = backend.kemEncapsulate(vaultPublicKey);
  const nonce = randomBytes(AES_GCM.nonceBytes);
  const ct = aesGcmEncrypt(dataKey(sharedSecret, cipherText, binding), nonce, Buffer.from(JSON.stringify(values)), aad(binding));
  return Buffer.concat([Buffer.of(FORMAT_VERSION), cipherText, nonce, ct]);
}

/** Opens a sealed credential; a blob moved to another tenant, id or version fails to open. */
export function unsealCredential(backend: CryptoBackend, vaultSeed: Uint8Array, blob: Uint8Array, binding: SealBinding): Record<string, string> {
  const kemEnd = 1 + ML_KEM_768.cipherTextBytes;
  const nonceEnd = kemEnd + AES_GCM.nonceBytes;
  if (blob[0] !== FORMAT_VERSION || blob.length < nonceEnd + AES_GCM.tagBytes) {
    throw new QsError('QS_INTERNAL', 'sealed credential has an unknown format');
  }
  const ctKem = blob.subarray(1, kemEnd);
  const ss = backend.kemDecapsulate(vaultSeed, ctKem);
  const plain = aesGcmDecrypt(dataKey(ss, ctKem, binding), blob.subarray(kemEnd, nonceEnd), blob.subarray(nonceEnd), aad(binding));
  if (plain === null) throw new QsError('QS_KMS_FAILURE', 'sealed credential failed to open (wrong vault key or moved record)');
  return JSON.parse(plain.toString('utf8')) as Record<string, string>;
}
