import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import { QsClient } from '../../src/client/qs-client.js';
import { QsPool } from '../../src/client/qs-pool.js';
import { EnvelopeVerificationError } from '../../src/protocol/errors.js';
import { startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

type Envelope = { encrypted: Record<string, string>; signature: Record<string, string>; context: Record<string, unknown> };

/** Flip one bit of one byte of a base64 field (decoded, flipped, re-encoded: a valid-looking value). */
function flipByte(b64: string, index = 10): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[index % bytes.length]! ^= 0x01;
  return bytes.toString('base64');
}

/** A transport that sits between the client and the proxy and rewrites the envelope on its way back. */
function tamperingTransport(url: string, mutate: (env: Envelope) => void): QsTransport {
  const inner = httpTransport(new URL(url).origin);
  return {
    async request(req) {
      const res = await inner.request(req);
      if (res.status !== 200) return res;
      const env = JSON.parse(res.body.toString('utf8')) as Envelope;
      mutate(env);
      return { status: res.status, body: Buffer.from(JSON.stringify(env)) };
    },
  };
}

describe('a tampered envelope is refused', () => {
  let proxy: FakeProxy;
  beforeAll(async () => {
    proxy = await startFakeProxy();
  });
  afterAll(() => proxy.close());

  const cases: Array<[string, (env: Envelope) => void]> = [
    ['ciphertext_data', (e) => void (e.encrypted.ciphertext_data = flipByte(e.encrypted.ciphertext_data!))],
    ['ciphertext_kem', (e) => void (e.encrypted.ciphertext_kem = flipByte(e.encrypted.ciphertext_kem!))],
    ['nonce', (e) => void (e.encrypted.nonce = flipByte(e.encrypted.nonce!, 0))],
    ['pqc_signature', (e) => void (e.signature.pqc_signature = flipByte(e.signature.pqc_signature!))],
    ['hmac_signature', (e) => void (e.signature.hmac_signature = flipByte(e.signature.hmac_signature!))],
    ['context.operation', (e) => void (e.context.operation = 'execute')],
  ];

  it.each(cases)('one flipped byte in %s → EnvelopeVerificationError, callback gets no rows', async (_name, mutate) => {
    const options = { url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, transport: tamperingTransport(proxy.url, mutate) };
    const client = new QsClient(options);
    await expect(client.query('SELECT $1', ['secret'])).rejects.toBeInstanceOf(EnvelopeVerificationError);
    // What the session did is unknown after an unverifiable answer: the client retires, as pg's does after a broken socket.
    expect(client._queryable).toBe(false);
    await client.end();

    const pool = new QsPool(options);
    const viaCallback = await new Promise<{ err: Error | null; res: unknown }>((resolve) => {
      pool.query('SELECT $1', ['secret'], (err, res) => resolve({ err, res }));
    });
    expect(viaCallback.err).toBeInstanceOf(EnvelopeVerificationError);
    expect(viaCallback.res).toBeUndefined();
    await pool.end();
  });

  it('an envelope replayed onto another request is refused (request id and body hash are bound)', async () => {
    let captured: Buffer | undefined;
    const inner = httpTransport(new URL(proxy.url).origin);
    const replaying: QsTransport = {
      async request(req) {
        const res = await inner.request(req);
        if (captured === undefined) {
          captured = res.body;
          return res;
        }
        return { status: 200, body: captured };
      },
    };
    const pool = new QsPool({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, transport: replaying });
    expect((await pool.query('SELECT $1::text AS value', ['first'])).rows).toEqual([{ value: 'first' }]);
    await expect(pool.query('SELECT $1::text AS value', ['second'])).rejects.toBeInstanceOf(EnvelopeVerificationError);
    await pool.end();
  });

  it('an envelope signed by an unpinned key is refused', async () => {
    const other = await startFakeProxy({ apiKey: proxy.apiKey });
    // Same API key and tenant binding do not help: the other proxy's signing key is not pinned.
    const client = new QsClient({ url: other.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath });
    await expect(client.query('SELECT 1')).rejects.toBeInstanceOf(EnvelopeVerificationError);
    await client.end();
    await other.close();
  });
});
