/**
 * Byte helpers shared by both sides: strict base64 and the canonical length-prefixed encoding
 * used for every AAD and signed message (never JSON.stringify of an object, whose key order
 * and escaping are not a byte contract).
 */

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Strict base64 decode: canonical padding, no whitespace, no URL alphabet. Returns null on any
 * deviation or when the length is not `expected`. Buffer.from skips characters it does not know
 * (and takes the URL alphabet), so the check is the round trip: what it decoded must encode back
 * to exactly `value`. Node's encoder only writes canonical padded base64 (zero pad bits
 * included), so equality means `value` was canonical; native and linear even on megabytes.
 */
export function fromBase64Strict(value: unknown, expected?: { length?: number; max?: number }): Buffer | null {
  if (typeof value !== 'string') return null;
  if (expected?.max !== undefined && value.length > Math.ceil(expected.max / 3) * 4) return null;
  if (expected?.length !== undefined && value.length !== Math.ceil(expected.length / 3) * 4) return null;
  const out = Buffer.from(value, 'base64');
  if (out.toString('base64') !== value) return null;
  if (expected?.length !== undefined && out.length !== expected.length) return null;
  return out;
}

/**
 * canonical(f1, f2, …) = u32be(len(f1)) ‖ f1 ‖ u32be(len(f2)) ‖ f2 ‖ …  with strings as UTF-8.
 * Unambiguous: no two different field lists give the same bytes.
 */
export function canonical(...fields: ReadonlyArray<string | Uint8Array>): Buffer {
  let total = 0;
  for (const f of fields) total += 4 + (typeof f === 'string' ? Buffer.byteLength(f, 'utf8') : f.length);
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const f of fields) {
    // Strings are written straight into the output (no intermediate TextEncoder copy).
    const n = typeof f === 'string' ? out.write(f, offset + 4, 'utf8') : (out.set(f, offset + 4), f.length);
    out.writeUInt32BE(n, offset);
    offset += 4 + n;
  }
  return out;
}
