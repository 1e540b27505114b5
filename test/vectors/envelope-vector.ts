/**
 * The known-answer envelope: fixed seeds, fixed KEM and nonce randomness, deterministic ML-DSA
 * signing and a fixed clock. `npx tsx test/vectors/envelope-vector.ts > test/vectors/envelope-v2.json`
 * regenerates it — which should only ever happen with a deliberate, versioned format change.
 */
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNobleBackend, nobleDeterministic } from '../../src/crypto/noble-backend.js';
import { sealEnvelope, type HybridCryptoEnvelope } from '../../src/protocol/envelope.js';
import { deriveResponseHmacKey, keyIdFor } from '../../src/protocol/keys.js';

export const VECTOR_INPUT = {
  signerSeed: Buffer.alloc(32, 0x11),
  recipientSeed: Buffer.alloc(64, 0x22),
  kemRandomness: Buffer.alloc(32, 0x33),
  nonce: Buffer.alloc(12, 0x44),
  issuedAt: '2026-11-29T04:00:00.000Z',
  apiKey: 'qs_test_000000000000000000000000000000000000000000',
  tenantId: 'ten_01JZ0000000000000000000000',
  requestId: 'req_01JZ0000000000000000000001',
  requestSha256: '5f'.repeat(32),
  integrationId: 'int_01JZ0000000000000000000002',
  auditEventId: 'aud_01JZ0000000000000000000003',
  payload: { results: [{ command: 'SELECT', rowCount: 1, oid: null, fields: [{ name: 'id', tableID: 16384, columnID: 1, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' }], rows: [['1']] }], session_id: null },
};

/** noble with its randomness pinned: the only way to get the same bytes twice. */
export function deterministicBackend(): CryptoBackend {
  const noble = createNobleBackend();
  return {
    ...noble,
    kemEncapsulate: (pk) => nobleDeterministic.kemEncapsulate(pk, VECTOR_INPUT.kemRandomness),
    dsaSign: (seed, msg, ctx) => nobleDeterministic.dsaSign(seed, msg, ctx),
  };
}

export async function makeVector(): Promise<{ keys: Record<string, string>; envelope: HybridCryptoEnvelope }> {
  const backend = deterministicBackend();
  const v = VECTOR_INPUT;
  const signerPk = backend.dsaPublicKey(v.signerSeed);
  const recipientPk = backend.kemPublicKey(v.recipientSeed);
  const envelope = await sealEnvelope(
    {
      payload: v.payload,
      tenantId: v.tenantId,
      context: { request_id: v.requestId, integration_id: v.integrationId, operation: 'query', request_sha256: v.requestSha256 },
      recipient: { keyId: keyIdFor('rk', recipientPk), publicKey: recipientPk },
      signer: { keyId: keyIdFor('sk', signerPk), secretKey: v.signerSeed },
      hmacKey: deriveResponseHmacKey(v.apiKey, v.tenantId),
      auditEventId: v.auditEventId,
    },
    { backend, now: () => new Date(v.issuedAt), randomBytes: () => v.nonce },
  );
  return {
    keys: {
      signer_key_id: keyIdFor('sk', signerPk),
      signer_public_key_sha256: Buffer.from(await crypto.subtle.digest('SHA-256', signerPk)).toString('hex'),
      recipient_key_id: keyIdFor('rk', recipientPk),
      hmac_key: Buffer.from(deriveResponseHmacKey(v.apiKey, v.tenantId)).toString('hex'),
    },
    envelope,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await makeVector(), null, 2));
}
