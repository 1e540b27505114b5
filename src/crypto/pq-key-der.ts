/**
 * The two ASN.1 wrappers `node:crypto` needs to take ML-KEM / ML-DSA keys in our forms (DESIGN §3):
 * a PKCS#8 private key holding only the FIPS seed, and an SPKI public key around the raw FIPS
 * encoding. Both are fixed-shape, so they are built by hand rather than with an ASN.1 library.
 *
 * PKCS#8 and JWK are the import forms every Node release with these algorithms accepts; Node's
 * JWK import additionally insists on `pub` (and does not check it matches `priv`), so the
 * seed-only PKCS#8 form is the one that needs nothing but the seed.
 */

/** The NIST CSOR object identifiers (content octets only), FIPS 203 / FIPS 204 algorithm arcs. */
export const PQ_OIDS = {
  /** id-ml-dsa-65, 2.16.840.1.101.3.4.3.18 */
  'ml-dsa-65': Uint8Array.of(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12),
  /** id-ml-kem-768, 2.16.840.1.101.3.4.4.2 */
  'ml-kem-768': Uint8Array.of(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x02),
} as const;

export type PqAlgorithm = keyof typeof PQ_OIDS;

/** One DER TLV with a definite length (X.690 §8.1.3: short form below 128, else long form). */
function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  let length: number[];
  if (n < 0x80) length = [n];
  else if (n < 0x100) length = [0x81, n];
  else if (n < 0x10000) length = [0x82, n >> 8, n & 0xff];
  else throw new RangeError('DER value too long for a key wrapper');
  return Buffer.concat([Buffer.of(tag, ...length), body]);
}

/** AlgorithmIdentifier with absent parameters, as the LAMPS ML-DSA / ML-KEM certificate profiles require. */
function algorithmIdentifier(alg: PqAlgorithm): Buffer {
  return tlv(0x30, tlv(0x06, PQ_OIDS[alg]));
}

/**
 * PKCS#8 OneAsymmetricKey (RFC 5958) whose privateKey is the `seed` CHOICE,
 * `[0] IMPLICIT OCTET STRING` (draft-ietf-lamps-dilithium-certificates and
 * draft-ietf-lamps-kyber-certificates, "Private Key Format"); OpenSSL 3.5 reads it.
 */
export function pkcs8FromSeed(alg: PqAlgorithm, seed: Uint8Array): Buffer {
  const version = Buffer.of(0x02, 0x01, 0x00);
  return tlv(0x30, version, algorithmIdentifier(alg), tlv(0x04, tlv(0x80, seed)));
}

/** SubjectPublicKeyInfo (RFC 5280 §4.1) around a raw FIPS public key; the BIT STRING has no unused bits. */
export function spkiFromRaw(alg: PqAlgorithm, publicKey: Uint8Array): Buffer {
  return tlv(0x30, algorithmIdentifier(alg), tlv(0x03, Buffer.of(0x00), publicKey));
}

/**
 * The raw FIPS public key inside an SPKI of the expected algorithm and length; throws if the
 * structure is anything else, so a surprise from the runtime never becomes a wrong key.
 */
export function rawFromSpki(alg: PqAlgorithm, spki: Uint8Array, publicKeyBytes: number): Uint8Array {
  const prefix = spkiFromRaw(alg, new Uint8Array(publicKeyBytes)).subarray(0, -publicKeyBytes);
  if (spki.length !== prefix.length + publicKeyBytes || !Buffer.from(spki.subarray(0, prefix.length)).equals(prefix)) {
    throw new Error(`unexpected ${alg} SubjectPublicKeyInfo encoding`);
  }
  return new Uint8Array(spki.subarray(prefix.length));
}
