import { createNobleBackend } from '../../src/crypto/noble-backend.js';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { deriveResponseHmacKey, generateRecipientKeyPair, generateSigningKeyPair, type KeyPair } from '../../src/protocol/keys.js';
import type { OpenEnvelopeOptions, SealEnvelopeInput } from '../../src/protocol/envelope.js';

export interface EnvelopeFixture {
  signer: KeyPair;
  recipient: KeyPair;
  hmacKey: Uint8Array;
  tenantId: string;
  sealInput: SealEnvelopeInput;
  openOptions: OpenEnvelopeOptions;
}

/** Fresh keys and matching seal/open arguments for one request. */
export async function envelopeFixture(backend: CryptoBackend = createNobleBackend(), payload: unknown = { results: [], session_id: null }): Promise<EnvelopeFixture> {
  const signer = await generateSigningKeyPair(backend);
  const recipient = await generateRecipientKeyPair(backend);
  const tenantId = 'ten_01JZ0000000000000000000000';
  const hmacKey = deriveResponseHmacKey('qs_test_fixtureapikey', tenantId);
  const requestSha256 = 'ab'.repeat(32);
  return {
    signer,
    recipient,
    hmacKey,
    tenantId,
    sealInput: {
      payload,
      tenantId,
      context: { request_id: 'req_01JZ0000000000000000000001', integration_id: 'int_01JZ0000000000000000000002', operation: 'query', request_sha256: requestSha256 },
      recipient: { keyId: recipient.keyId, publicKey: recipient.publicKey },
      signer: { keyId: signer.keyId, secretKey: signer.secretKey },
      hmacKey,
      auditEventId: 'aud_01JZ0000000000000000000003',
    },
    openOptions: {
      tenantId,
      requestId: 'req_01JZ0000000000000000000001',
      requestSha256,
      integrationId: 'int_01JZ0000000000000000000002',
      recipient: { keyId: recipient.keyId, secretKey: recipient.secretKey },
      signingKeys: [{ keyId: signer.keyId, publicKey: signer.publicKey }],
      hmacKey,
      backend,
    },
  };
}
