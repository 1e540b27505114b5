/**
 * The two spellings of one HybridCryptoEnvelope on the wire.
 *
 * JSON (DESIGN §5, `application/json`): every binary field in base64 — what the REST API answers
 * by default and what `QuantaSeal#encryption.decrypt` takes.
 *
 * Binary (`application/vnd.quantaseal.envelope`, asked for by the driver in its Accept header):
 *
 *     "QSE2" | u32 big-endian n | n bytes: the JSON envelope without `encrypted.ciphertext_data` | ciphertext_data
 *
 * The same fields, the same signed bytes; only the AES-GCM ciphertext travels raw, so a large
 * answer is neither base64-encoded by the proxy nor decoded, scanned and JSON-parsed as a string
 * by the driver (10,000 rows: ~1 MB of ciphertext, 1.3 MB as base64).
 */
import { toBase64 } from './bytes.js';
import type { HybridCryptoEnvelope } from './envelope.js';

export const ENVELOPE_BINARY_MEDIA_TYPE = 'application/vnd.quantaseal.envelope';
const MAGIC = Buffer.from('QSE2', 'latin1');
const PREFIX_BYTES = MAGIC.length + 4;
/** The header is a few kB (ct_kem, the signature, a Merkle path); anything far larger is not ours. */
const MAX_HEADER_BYTES = 64 * 1024;

/** The envelope minus its ciphertext: what the binary form carries as JSON. */
export type EnvelopeHeader = Omit<HybridCryptoEnvelope, 'encrypted'> & { encrypted: Omit<HybridCryptoEnvelope['encrypted'], 'ciphertext_data'> };

/** A sealed envelope not yet serialized: the server picks the spelling the client asked for. */
export class WireEnvelope {
  readonly #ciphertextParts: readonly Buffer[];
  #ciphertextData: Buffer | undefined;

  /** `ciphertext`: `ciphertext_data` in one buffer, or as the pieces that make it up, in order. */
  constructor(
    readonly header: EnvelopeHeader,
    ciphertext: Buffer | readonly Buffer[],
  ) {
    this.#ciphertextParts = Buffer.isBuffer(ciphertext) ? [ciphertext] : ciphertext;
  }

  /** `ciphertext_data` in one buffer (joined on first use when it was built in pieces). */
  get ciphertextData(): Buffer {
    this.#ciphertextData ??= this.#ciphertextParts.length === 1 ? (this.#ciphertextParts[0] as Buffer) : Buffer.concat(this.#ciphertextParts);
    return this.#ciphertextData;
  }

  /** The DESIGN §5 JSON object (fields in their documented order). */
  toJSON(): HybridCryptoEnvelope {
    const { ciphertext_kem, ...rest } = this.header.encrypted;
    return { ...this.header, encrypted: { ciphertext_kem, ciphertext_data: toBase64(this.ciphertextData), ...rest } };
  }

  /**
   * The binary form in one buffer: the ciphertext's pieces are copied once, straight into it.
   * (Writing the pieces as separate chunks through a stream measured no faster end to end than
   * this one copy: a stream costs its own events and writes.)
   */
  toBinary(): Buffer {
    const header = Buffer.from(JSON.stringify(this.header), 'utf8');
    const parts = this.#ciphertextParts;
    let length = PREFIX_BYTES + header.length;
    for (const part of parts) length += part.length;
    const out = Buffer.allocUnsafe(length);
    MAGIC.copy(out, 0);
    out.writeUInt32BE(header.length, MAGIC.length);
    let at = PREFIX_BYTES + header.copy(out, PREFIX_BYTES);
    for (const part of parts) at += part.copy(out, at);
    return out;
  }
}

/**
 * Splits a binary envelope into its parsed header and its raw ciphertext, or null when the bytes
 * are not one (wrong magic, a length past the end, a header that is not a JSON object). The
 * header is not checked here: openEnvelope checks it exactly as it checks the JSON form.
 */
export function decodeBinaryEnvelope(body: Uint8Array): { header: Record<string, unknown>; ciphertextData: Buffer } | null {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < PREFIX_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const n = buf.readUInt32BE(MAGIC.length);
  if (n > MAX_HEADER_BYTES || PREFIX_BYTES + n > buf.length) return null;
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + n));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  return { header: header as Record<string, unknown>, ciphertextData: buf.subarray(PREFIX_BYTES + n) };
}

/** True when a Content-Type header names the binary form (parameters and case aside). */
export function isBinaryEnvelopeType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === ENVELOPE_BINARY_MEDIA_TYPE;
}

/** True when an Accept header lists the binary form (and does not refuse it with q=0). */
export function acceptsBinaryEnvelope(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    return type === ENVELOPE_BINARY_MEDIA_TYPE && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}
