import { randomBytes } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { ML_DSA_65, ML_KEM_768, type CryptoBackend } from '../crypto/backend.js';
import { getCryptoBackend } from '../crypto/select-backend.js';
import { AES_GCM, aesGcmDecrypt, aesGcmEncrypt, constantTimeEqualBit, hkdf, hmacSha512, sha256 } from '../crypto/symmetric.js';
import { canonical, fromBase64Strict, toBase64 } from './bytes.js';
import { EnvelopeVerificationError } from './errors.js';

/** Wire-format version in `context.version`; anything else is refused (no downgrade). */
export const ENVELOPE_VERSION = 2;
export const KEM_ALGORITHM = 'ML-KEM-768';
export const SIGNATURE_ALGORITHM = 'ML-DSA-65+HMAC-SHA-512';
/** The cipher suite, bound into every AAD and signature. */
export const ENVELOPE_SUITE = 'ML-KEM-768/HKDF-SHA-256/AES-256-GCM;ML-DSA-65+HMAC-SHA-512';
export const HMAC_BYTES = 64;
export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;
/** Upper bound on the decrypted payload an opener accepts by default. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

/** The DESIGN §5 envelope, JSON-ready (binary fields in base64). */
export interface HybridCryptoEnvelope {
  success: boolean;
  encrypted: {
    ciphertext_kem: string;
    ciphertext_data: string;
    nonce: string;
    tenant_id: string;
    algorithm: typeof KEM_ALGORITHM;
    key_id: string;
  };
  signature: {
    pqc_signature: string;
    hmac_signature: string;
    tenant_id: string;
    algorithm: typeof SIGNATURE_ALGORITHM;
    key_id: string;
  };
  context: EnvelopeContext;
  audit_event_id: string;
}

export interface EnvelopeContext {
  version: typeof ENVELOPE_VERSION;
  request_id: string;
  /** SHA-256 (hex) of the exact request body answered; binds the response to its request. */
  request_sha256: string;
  integration_id: string;
  operation: string;
  /** RFC 3339 time the envelope was sealed. */
  issued_at: string;
}

export interface SealEnvelopeInput {
  payload: unknown;
  tenantId: string;
  context: { request_id: string; integration_id: string; operation: string; request_sha256?: string };
  recipient: { keyId: string; publicKey: Uint8Array };
  signer: { keyId: string; secretKey: Uint8Array };
  hmacKey: Uint8Array;
  auditEventId: string;
  /** false for envelopes whose payload is an error. Default true. */
  success?: boolean;
}

/** Injection points for tests and known-answer vectors; the serving path uses the defaults. */
export interface SealDependencies {
  backend?: CryptoBackend;
  now?: () => Date;
  randomBytes?: (n: number) => Uint8Array;
}

export interface OpenEnvelopeOptions {
  tenantId: string;
  requestId: string;
  /** When given, `context.request_sha256` must equal it. */
  requestSha256?: string;
  /** When given, `context.integration_id` must equal it. */
  integrationId?: string;
  recipient: { keyId: string; secretKey: Uint8Array };
  /** Pinned server signing keys; an envelope signed by any other key is refused. */
  signingKeys: ReadonlyArray<{ keyId: string; publicKey: Uint8Array }>;
  hmacKey: Uint8Array;
  maxSkewMs?: number;
  maxPayloadBytes?: number;
  backend?: CryptoBackend;
  now?: () => Date;
}

const encoder = new TextEncoder();
const EMPTY_SHA = '';
/**
 * Announces each cryptographic check as it is computed (never its outcome), so tests can prove
 * that both run even when the first one fails. Subscribers see only `{ check }`.
 */
const checkChannel = channel('quantaseal:envelope:check');

/** Fields of the envelope bound into both the AAD and the signed message, in a fixed order. */
function headerFields(env: {
  success: boolean;
  context: EnvelopeContext;
  encrypted: { tenant_id: string; algorithm: string; key_id: string };
  signature: { tenant_id: string; algorithm: string; key_id: string };
  audit_event_id: string;
}): string[] {
  const c = env.context;
  return [
    ENVELOPE_SUITE,
    String(c.version),
    env.success ? 'success' : 'error',
    c.request_id,
    c.request_sha256,
    c.integration_id,
    c.operation,
    c.issued_at,
    env.encrypted.tenant_id,
    env.encrypted.algorithm,
    env.encrypted.key_id,
    env.signature.tenant_id,
    env.signature.algorithm,
    env.signature.key_id,
    env.audit_event_id,
  ];
}

function aeadKey(sharedSecret: Uint8Array, cipherTextKem: Uint8Array, tenantId: string, recipientKeyId: string): Buffer {
  // DESIGN §5: HKDF-SHA-256(ss, salt = SHA-256(ct_kem), info = "quantaseal/v2/aead" ‖ tenant ‖ key id).
  return hkdf('sha256', sharedSecret, sha256(cipherTextKem), canonical('quantaseal/v2/aead', tenantId, recipientKeyId), AES_GCM.keyBytes);
}

const aadBytes = (fields: string[]) => canonical('QSENV2/aad', ...fields);
const signedBytes = (fields: string[], ctKem: Uint8Array, nonce: Uint8Array, ctData: Uint8Array) =>
  canonical('QSENV2/sig', ...fields, ctKem, nonce, ctData);

/**
 * Seal a payload for one recipient: ML-KEM-768 → HKDF → AES-256-GCM, then sign the canonical
 * header and ciphertexts with ML-DSA-65 and HMAC-SHA-512 (DESIGN §5).
 */
export async function sealEnvelope(input: SealEnvelopeInput, deps: SealDependencies = {}): Promise<HybridCryptoEnvelope> {
  const backend = deps.backend ?? getCryptoBackend();
  const now = deps.now?.() ?? new Date();
  const context: EnvelopeContext = {
    version: ENVELOPE_VERSION,
    request_id: input.context.request_id,
    request_sha256: input.context.request_sha256 ?? EMPTY_SHA,
    integration_id: input.context.integration_id,
    operation: input.context.operation,
    issued_at: now.toISOString(),
  };
  const header = {
    success: input.success ?? true,
    context,
    encrypted: { tenant_id: input.tenantId, algorithm: KEM_ALGORITHM, key_id: input.recipient.keyId },
    signature: { tenant_id: input.tenantId, algorithm: SIGNATURE_ALGORITHM, key_id: input.signer.keyId },
    audit_event_id: input.auditEventId,
  } as const;
  const fields = headerFields(header);

  const { cipherText: ctKem, sharedSecret } = backend.kemEncapsulate(input.recipient.publicKey);
  const key = aeadKey(sharedSecret, ctKem, input.tenantId, input.recipient.keyId);
  const nonce = (deps.randomBytes ?? randomBytes)(AES_GCM.nonceBytes);
  const plaintext = encoder.encode(JSON.stringify(input.payload ?? null));
  const ctData = aesGcmEncrypt(key, nonce, plaintext, aadBytes(fields));

  const signed = signedBytes(fields, ctKem, nonce, ctData);
  const pqcSignature = backend.dsaSign(input.signer.secretKey, signed);
  const hmacSignature = hmacSha512(input.hmacKey, signed);

  return {
    success: header.success,
    encrypted: {
      ciphertext_kem: toBase64(ctKem),
      ciphertext_data: toBase64(ctData),
      nonce: toBase64(nonce),
      ...header.encrypted,
    },
    signature: {
      pqc_signature: toBase64(pqcSignature),
      hmac_signature: toBase64(hmacSignature),
      ...header.signature,
    },
    context,
    audit_event_id: input.auditEventId,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_ID = 256;
const shortString = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_ID;

interface ParsedEnvelope {
  header: Parameters<typeof headerFields>[0];
  ctKem: Buffer;
  ctData: Buffer;
  nonce: Buffer;
  pqcSignature: Buffer;
  hmacSignature: Buffer;
}

/** Structural parse; any deviation yields null (the caller turns it into the one error). */
function parseEnvelope(raw: unknown, maxPayloadBytes: number): ParsedEnvelope | null {
  if (!isObject(raw) || !isObject(raw.encrypted) || !isObject(raw.signature) || !isObject(raw.context)) return null;
  const { encrypted: e, signature: s, context: c } = raw;
  if (typeof raw.success !== 'boolean' || !shortString(raw.audit_event_id)) return null;
  if (![e.tenant_id, e.algorithm, e.key_id, s.tenant_id, s.algorithm, s.key_id].every(shortString)) return null;
  if (c.version !== ENVELOPE_VERSION) return null;
  if (![c.request_id, c.request_sha256, c.integration_id, c.operation, c.issued_at].every(shortString)) return null;
  const ctKem = fromBase64Strict(e.ciphertext_kem, { length: ML_KEM_768.cipherTextBytes });
  const nonce = fromBase64Strict(e.nonce, { length: AES_GCM.nonceBytes });
  const ctData = fromBase64Strict(e.ciphertext_data, { max: maxPayloadBytes + AES_GCM.tagBytes });
  const pqcSignature = fromBase64Strict(s.pqc_signature, { length: ML_DSA_65.signatureBytes });
  const hmacSignature = fromBase64Strict(s.hmac_signature, { length: HMAC_BYTES });
  if (!ctKem || !nonce || !ctData || !pqcSignature || !hmacSignature || ctData.length < AES_GCM.tagBytes) return null;
  return {
    header: {
      success: raw.success,
      context: c as unknown as EnvelopeContext,
      encrypted: { tenant_id: e.tenant_id as string, algorithm: e.algorithm as string, key_id: e.key_id as string },
      signature: { tenant_id: s.tenant_id as string, algorithm: s.algorithm as string, key_id: s.key_id as string },
      audit_event_id: raw.audit_event_id,
    },
    ctKem,
    ctData,
    nonce,
    pqcSignature,
    hmacSignature,
  };
}

const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);

/**
 * Verify, then open, an envelope. Checks the binding (tenant, request, key ids, suite, freshness),
 * computes BOTH the ML-DSA-65 and the HMAC-SHA-512 check and combines them with a bitwise `&`
 * (no short-circuit; HMAC compared in constant time), and only then decapsulates and decrypts.
 * Every failure, including a malformed envelope, throws the same EnvelopeVerificationError.
 */
export async function openEnvelope(envelope: unknown, opts: OpenEnvelopeOptions): Promise<unknown> {
  try {
    return openVerified(envelope, opts);
  } catch (err) {
    // Anything unexpected (a backend throwing on odd input, say) is the same one error.
    if (err instanceof EnvelopeVerificationError) throw err;
    throw new EnvelopeVerificationError();
  }
}

function openVerified(envelope: unknown, opts: OpenEnvelopeOptions): unknown {
  const parsed = parseEnvelope(envelope, opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  if (parsed === null) throw new EnvelopeVerificationError();
  const backend = opts.backend ?? getCryptoBackend();
  const { header, ctKem, ctData, nonce } = parsed;
  const { context } = header;

  const issuedAt = Date.parse(context.issued_at);
  const now = (opts.now?.() ?? new Date()).getTime();
  const pinned = opts.signingKeys.find((k) => k.keyId === header.signature.key_id);
  let bindOk =
    bit(header.encrypted.tenant_id === opts.tenantId) &
    bit(header.signature.tenant_id === opts.tenantId) &
    bit(header.encrypted.algorithm === KEM_ALGORITHM) &
    bit(header.signature.algorithm === SIGNATURE_ALGORITHM) &
    bit(header.encrypted.key_id === opts.recipient.keyId) &
    bit(context.request_id === opts.requestId) &
    bit(Number.isFinite(issuedAt) && Math.abs(now - issuedAt) <= (opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS)) &
    bit(pinned !== undefined);
  if (opts.requestSha256 !== undefined) bindOk &= bit(context.request_sha256 === opts.requestSha256);
  if (opts.integrationId !== undefined) bindOk &= bit(context.integration_id === opts.integrationId);

  const fields = headerFields(header);
  const signed = signedBytes(fields, ctKem, nonce, ctData);
  // Both checks always run. With an unpinned key id the ML-DSA check still runs (against the
  // first pinned key) so the timing does not reveal which part failed.
  const verifyKey = pinned ?? opts.signingKeys[0];
  checkChannel.publish({ check: 'ml-dsa-65' });
  const pqOk = verifyKey ? bit(backend.dsaVerify(verifyKey.publicKey, signed, parsed.pqcSignature)) : 0;
  checkChannel.publish({ check: 'hmac-sha-512' });
  const hmacOk = constantTimeEqualBit(hmacSha512(opts.hmacKey, signed), parsed.hmacSignature);

  if ((bindOk & pqOk & hmacOk) !== 1) throw new EnvelopeVerificationError();

  let plaintext: Buffer | null;
  try {
    const sharedSecret = backend.kemDecapsulate(opts.recipient.secretKey, ctKem);
    const key = aeadKey(sharedSecret, ctKem, opts.tenantId, opts.recipient.keyId);
    plaintext = aesGcmDecrypt(key, nonce, ctData, aadBytes(fields));
  } catch {
    plaintext = null;
  }
  if (plaintext === null) throw new EnvelopeVerificationError();
  try {
    return JSON.parse(plaintext.toString('utf8')) as unknown;
  } catch {
    throw new EnvelopeVerificationError();
  }
}
