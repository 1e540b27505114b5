/**
 * Byte helpers shared by both sides: strict base64 and the canonical length-prefixed encoding
 * used for every AAD and signed message (never JSON.stringify of an object, whose key order
 * and escaping are not a byte contract).
 */

const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[c.charCodeAt(0)] = 1;

/** Canonical padded base64 check as a plain loop (a regex backtracks or overflows on megabytes). */
function isCanonicalBase64(value: string): boolean {
  const n = value.length;
  if (n % 4 !== 0) return false;
  let end = n;
  if (n > 0 && value.charCodeAt(n - 1) === 61 /* = */) end--;
  if (end < n && end > 0 && value.charCodeAt(end - 1) === 61) end--;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || BASE64_ALPHABET[c] !== 1) return false;
  }
  return true;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Strict base64 decode: canonical padding, no whitespace, no URL alphabet. Returns null on any
 * deviation (Buffer.from would silently skip bad characters) or when the length is not `expected`.
 */
export function fromBase64Strict(value: unknown, expected?: { length?: number; max?: number }): Buffer | null {
  if (typeof value !== 'string') return null;
  if (expected?.max !== undefined && value.length > Math.ceil(expected.max / 3) * 4) return null;
  if (!isCanonicalBase64(value)) return null;
  const out = Buffer.from(value, 'base64');
  // Non-zero pad bits mean a second spelling of the same bytes: refuse it, canonical only.
  if (out.toString('base64') !== value) return null;
  if (expected?.length !== undefined && out.length !== expected.length) return null;
  return out;
}

const encoder = new TextEncoder();

/**
 * canonical(f1, f2, …) = u32be(len(f1)) ‖ f1 ‖ u32be(len(f2)) ‖ f2 ‖ …  with strings as UTF-8.
 * Unambiguous: no two different field lists give the same bytes.
 */
export function canonical(...fields: ReadonlyArray<string | Uint8Array>): Buffer {
  const parts = fields.map((f) => (typeof f === 'string' ? encoder.encode(f) : f));
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const p of parts) {
    out.writeUInt32BE(p.length, offset);
    out.set(p, offset + 4);
    offset += 4 + p.length;
  }
  return out;
}
