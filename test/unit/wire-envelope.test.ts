import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openEnvelope, sealWireEnvelope } from '../../src/protocol/envelope.js';
import { EnvelopeVerificationError } from '../../src/protocol/errors.js';
import { sha256 } from '../../src/crypto/symmetric.js';
import { acceptsBinaryEnvelope, decodeBinaryEnvelope, ENVELOPE_BINARY_MEDIA_TYPE, isBinaryEnvelopeType, WireEnvelope } from '../../src/protocol/wire-envelope.js';
import { envelopeFixture, type EnvelopeFixture } from '../helpers/envelope-fixture.js';

const ROWS = { results: [{ command: 'SELECT', rowCount: 2, rows: [['1', 'ada@example.com'], ['2', null]] }], session_id: null };

async function sealed(): Promise<{ fx: EnvelopeFixture; wire: WireEnvelope }> {
  const fx = await envelopeFixture(undefined, ROWS);
  const backend = fx.openOptions.backend!;
  return { fx, wire: await sealWireEnvelope(fx.sealInput, { backend }) };
}

const frame = (magic: string, header: Buffer, rest: Buffer = Buffer.alloc(0), length = header.length) => {
  const prefix = Buffer.alloc(8);
  prefix.write(magic, 0, 'latin1');
  prefix.writeUInt32BE(length, 4);
  return Buffer.concat([prefix, header, rest]);
};

describe('the binary envelope form', () => {
  it('spells the same envelope as the JSON form, and both open to the payload', async () => {
    const { fx, wire } = await sealed();
    const json = wire.toJSON();
    const binary = wire.toBinary();
    const decoded = decodeBinaryEnvelope(binary);
    expect(decoded).not.toBeNull();
    expect(decoded!.header).toEqual(JSON.parse(JSON.stringify(wire.header)));
    expect(decoded!.ciphertextData.toString('base64')).toBe(json.encrypted.ciphertext_data);
    expect(Object.keys(json.encrypted)).toEqual(['ciphertext_kem', 'ciphertext_data', 'nonce', 'tenant_id', 'algorithm', 'key_id']);
    // No base64 of the ciphertext in the binary form: it is smaller by about a third of it.
    expect(binary.length).toBeLessThan(JSON.stringify(json).length - decoded!.ciphertextData.length / 4);
    await expect(openEnvelope(json, fx.openOptions)).resolves.toEqual(ROWS);
    await expect(openEnvelope(binary, fx.openOptions)).resolves.toEqual(ROWS);
    await expect(openEnvelope(new Uint8Array(binary), fx.openOptions)).resolves.toEqual(ROWS);
  });

  it('a ciphertext built in pieces spells the same bytes as one joined buffer', async () => {
    const { fx, wire } = await sealed();
    const ct = wire.ciphertextData;
    const cut = Math.floor(ct.length / 3);
    const pieces = new WireEnvelope(wire.header, [ct.subarray(0, cut), ct.subarray(cut, 2 * cut), ct.subarray(2 * cut)]);
    expect(pieces.ciphertextData).toEqual(ct);
    expect(pieces.toBinary()).toEqual(wire.toBinary());
    expect(pieces.toJSON()).toEqual(wire.toJSON());
    await expect(openEnvelope(pieces.toBinary(), fx.openOptions)).resolves.toEqual(ROWS);
    expect(sha256([ct.subarray(0, cut), ct.subarray(cut)])).toEqual(sha256(ct));
  });

  it('refuses bodies that are not one envelope, each with the one error', async () => {
    const { fx, wire } = await sealed();
    const good = wire.toBinary();
    const header = Buffer.from(JSON.stringify(wire.header));
    const ct = wire.ciphertextData;
    const withBoth = Buffer.from(JSON.stringify({ ...wire.header, encrypted: { ...wire.header.encrypted, ciphertext_data: ct.toString('base64') } }));
    const bad: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      'prefix only': good.subarray(0, 8),
      'wrong magic': frame('QSE1', header, ct),
      'lower-case magic': frame('qse2', header, ct),
      'header length past the end': frame('QSE2', header, ct, header.length + ct.length + 1),
      'header length beyond 64 KiB': frame('QSE2', header, ct, 70_000),
      'header one byte short': frame('QSE2', header, ct, header.length - 1),
      'header not JSON': frame('QSE2', Buffer.from('{"success":tru'), ct),
      'header an array': frame('QSE2', Buffer.from('[]'), ct),
      'ciphertext in both places': frame('QSE2', withBoth, ct),
      'ciphertext only in the header': frame('QSE2', withBoth),
      'last ciphertext byte missing': good.subarray(0, good.length - 1),
      'one byte appended': Buffer.concat([good, Buffer.of(0)]),
      'no ciphertext': frame('QSE2', header),
    };
    for (const [name, body] of Object.entries(bad)) {
      await expect(openEnvelope(body, fx.openOptions), name).rejects.toBeInstanceOf(EnvelopeVerificationError);
    }
    await expect(openEnvelope(good, { ...fx.openOptions, maxPayloadBytes: ct.length - 17 })).rejects.toBeInstanceOf(EnvelopeVerificationError);
    await expect(openEnvelope(good, fx.openOptions)).resolves.toEqual(ROWS);
  });

  it('property: any single-bit change anywhere in the body is refused', async () => {
    const { fx, wire } = await sealed();
    const good = wire.toBinary();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.nat({ max: 7 }), async (at, bit) => {
        const body = Buffer.from(good);
        body[at] = (body[at] as number) ^ (1 << bit);
        await expect(openEnvelope(body, fx.openOptions)).rejects.toBeInstanceOf(EnvelopeVerificationError);
      }),
      { numRuns: 60 },
    );
  });

  it('is chosen by the Accept header, and q=0 refuses it', () => {
    expect(acceptsBinaryEnvelope(ENVELOPE_BINARY_MEDIA_TYPE)).toBe(true);
    expect(acceptsBinaryEnvelope(`${ENVELOPE_BINARY_MEDIA_TYPE}, application/json;q=0.5`)).toBe(true);
    expect(acceptsBinaryEnvelope(`application/json, Application/Vnd.QuantaSeal.Envelope;q=0.9`)).toBe(true);
    expect(acceptsBinaryEnvelope(`${ENVELOPE_BINARY_MEDIA_TYPE};q=0`)).toBe(false);
    expect(acceptsBinaryEnvelope(`${ENVELOPE_BINARY_MEDIA_TYPE};q=0.000`)).toBe(false);
    expect(acceptsBinaryEnvelope(`${ENVELOPE_BINARY_MEDIA_TYPE}x`)).toBe(false);
    expect(acceptsBinaryEnvelope('application/json')).toBe(false);
    expect(acceptsBinaryEnvelope('*/*')).toBe(false);
    expect(acceptsBinaryEnvelope(undefined)).toBe(false);
  });

  it('is recognised in a Content-Type with parameters and any case, and only exactly', () => {
    expect(isBinaryEnvelopeType(ENVELOPE_BINARY_MEDIA_TYPE)).toBe(true);
    expect(isBinaryEnvelopeType('Application/Vnd.QuantaSeal.Envelope; charset=binary')).toBe(true);
    expect(isBinaryEnvelopeType(`${ENVELOPE_BINARY_MEDIA_TYPE}x`)).toBe(false);
    expect(isBinaryEnvelopeType('application/json')).toBe(false);
    expect(isBinaryEnvelopeType(undefined)).toBe(false);
  });
});
