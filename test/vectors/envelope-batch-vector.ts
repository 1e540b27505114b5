/**
 * The known-answer batch: three envelopes under one ML-DSA-65 signature over their Merkle root
 * (DESIGN §8), with the same keys as envelope-v2.json, fixed KEM randomness and nonces per
 * envelope, deterministic signing and a fixed clock.
 * `npx tsx test/vectors/envelope-batch-vector.ts > test/vectors/envelope-batch-v2.json` regenerates
 * it — which should only ever happen with a deliberate, versioned format change.
 */
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNobleBackend, nobleDeterministic } from '../../src/crypto/noble-backend.js';
import type { HybridCryptoEnvelope, SealEnvelopeInput } from '../../src/protocol/envelope.js';
import { deriveResponseHmacKey, keyIdFor } from '../../src/protocol/keys.js';
import { sealEnvelopeBatch } from '../../src/protocol/merkle-seal.js';
import { VECTOR_INPUT } from './envelope-vector.js';

export const BATCH_SIZE = 3;
export const batchRequestId = (i: number) => `req_01JZ00000000000000000001${i}0`;
export const batchPayload = (i: number) => ({ results: [{ command: 'SELECT', rowCount: 1, oid: null, fields: [{ name: 'n', tableID: 0, columnID: 0, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' }], rows: [[String(i)]] }], session_id: null });

/** noble with the i-th encapsulation using randomness 0x33+i, and non-hedged signing. */
export function deterministicBatchBackend(): CryptoBackend {
  const noble = createNobleBackend();
  let encapsulations = 0;
  return {
    ...noble,
    kemEncapsulate: (pk) => nobleDeterministic.kemEncapsulate(pk, Buffer.alloc(32, 0x33 + encapsulations++)),
    dsaSign: (seed, msg, ctx) => nobleDeterministic.dsaSign(seed, msg, ctx),
  };
}

export async function makeBatchVector(): Promise<{ keys: Record<string, string>; envelopes: HybridCryptoEnvelope[] }> {
  const backend = deterministicBatchBackend();
  const v = VECTOR_INPUT;
  const signerPk = backend.dsaPublicKey(v.signerSeed);
  const recipientPk = backend.kemPublicKey(v.recipientSeed);
  const inputs: SealEnvelopeInput[] = Array.from({ length: BATCH_SIZE }, (_, i) => ({
    payload: batchPayload(i),
    tenantId: v.tenantId,
    context: { request_id: batchRequestId(i), integration_id: v.integrationId, operation: 'query', request_sha256: String(i).repeat(64) },
    recipient: { keyId: keyIdFor('rk', recipientPk), publicKey: recipientPk },
    signer: { keyId: keyIdFor('sk', signerPk), secretKey: v.signerSeed },
    hmacKey: deriveResponseHmacKey(v.apiKey, v.tenantId),
    auditEventId: `aud_01JZ00000000000000000002${i}0`,
  }));
  let nonces = 0;
  const envelopes = await sealEnvelopeBatch(inputs, { backend, now: () => new Date(v.issuedAt), randomBytes: (n) => Buffer.alloc(n, 0x44 + nonces++) });
  return {
    keys: {
      signer_key_id: keyIdFor('sk', signerPk),
      recipient_key_id: keyIdFor('rk', recipientPk),
      hmac_key: Buffer.from(deriveResponseHmacKey(v.apiKey, v.tenantId)).toString('hex'),
    },
    envelopes,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await makeBatchVector(), null, 2));
}
