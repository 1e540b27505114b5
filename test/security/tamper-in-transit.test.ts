/**
 * A man in the middle between QsPool and the real proxy server: an HTTP relay on 127.0.0.1:0 that
 * changes one byte of the envelope's JSON on its way back (or of the request on its way out).
 * Every change must make the query reject with EnvelopeVerificationError and hand the caller no
 * rows; the untouched relay (control case) must work, so the refusals are the relay's doing.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EnvelopeVerificationError } from '../../src/index.js';
import { QsPool } from '../../src/client/qs-pool.js';
import { isBinaryEnvelopeType } from '../../src/protocol/wire-envelope.js';
import { databaseUrl } from '../helpers/pg.js';
import { provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';

/** Where in the JSON to change one character: a string field of the envelope, by its path. */
type Target = { part: 'response' | 'request'; path: string[] } | null;

interface Relay {
  url: string;
  /** What the next exchanges get tampered with (null: relay faithfully). */
  target: Target;
  /** How many bodies were actually changed. */
  tampered: number;
  /** The path of every request relayed. */
  paths: string[];
  /** Ask the proxy for the JSON form whatever the driver accepts (the driver reads both). */
  jsonOnly: boolean;
  /** Which envelope forms passed through. */
  forms: Set<'json' | 'binary'>;
  /** The proxy's headers and body length of the last answer, as they arrived at the relay. */
  last: { headers: Record<string, string | string[] | undefined>; bodyLength: number } | undefined;
  close(): Promise<void>;
}

const read = async (stream: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/**
 * Change exactly one byte of the raw JSON text: the middle character of the string at `path`,
 * replaced by another character of the same kind, so the JSON and the field's encoding (base64,
 * id alphabet, digits) stay well formed and only the value differs.
 */
function flipOneByte(raw: Buffer, path: string[]): Buffer | undefined {
  const text = raw.toString('utf8');
  let value: unknown = JSON.parse(text);
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  if (typeof value !== 'string' || value.length < 2) return undefined;
  const at = text.indexOf(JSON.stringify(value));
  if (at === -1) return undefined;
  const mid = at + 1 + Math.floor(value.length / 2);
  const c = text[mid]!;
  const swapped = /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : c === 'A' ? 'B' : 'A';
  const out = Buffer.from(text.slice(0, mid) + swapped + text.slice(mid + 1), 'utf8');
  // One byte, nothing else.
  expect(out.length).toBe(raw.length);
  expect([...out].filter((b, i) => b !== raw[i])).toHaveLength(1);
  return out;
}

/**
 * The same one-byte change in the binary form (wire-envelope.ts): inside the JSON header for a
 * header field, or in the raw ciphertext after it for `encrypted.ciphertext_data`.
 */
function flipOneByteBinary(raw: Buffer, path: string[]): Buffer | undefined {
  if (raw.subarray(0, 4).toString('latin1') !== 'QSE2') return undefined;
  const headerEnd = 8 + raw.readUInt32BE(4);
  if (path.join('.') === 'encrypted.ciphertext_data') {
    const out = Buffer.from(raw);
    const mid = headerEnd + Math.floor((raw.length - headerEnd) / 2);
    out[mid] = (out[mid] as number) ^ 1;
    return out;
  }
  const header = flipOneByte(raw.subarray(8, headerEnd), path);
  return header && Buffer.concat([raw.subarray(0, 8), header, raw.subarray(headerEnd)]);
}

async function startRelay(upstream: string): Promise<Relay> {
  const up = new URL(upstream);
  const relay = { target: null, tampered: 0, paths: [], jsonOnly: false, forms: new Set() } as unknown as Relay;
  const server: Server = createServer((req, res) => {
    void (async () => {
      let body: Buffer = await read(req);
      relay.paths.push(req.url ?? '');
      const t = relay.target;
      const changedRequest = t?.part === 'request' && body.length > 0 ? flipOneByte(body, t.path) : undefined;
      if (changedRequest) {
        body = changedRequest;
        relay.tampered++;
      }
      const answer = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
        const headers = { ...req.headers, host: up.host, 'content-length': String(body.length), ...(relay.jsonOnly ? { accept: 'application/json' } : {}) };
        const out = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (r) => {
          void read(r).then((b) => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: b }), reject);
        });
        out.on('error', reject);
        out.end(body);
      });
      let resBody: Buffer = answer.body;
      relay.last = { headers: answer.headers, bodyLength: answer.body.length };
      const binary = isBinaryEnvelopeType(String(answer.headers['content-type']));
      relay.forms.add(binary ? 'binary' : 'json');
      const changedResponse = t?.part === 'response' && answer.status === 200 ? (binary ? flipOneByteBinary : flipOneByte)(resBody, t.path) : undefined;
      if (changedResponse) {
        resBody = changedResponse;
        relay.tampered++;
      }
      res.writeHead(answer.status, { 'content-type': String(answer.headers['content-type'] ?? 'application/json'), 'content-length': String(resBody.length) });
      res.end(resBody);
    })().catch(() => {
      res.statusCode = 502;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return relay;
}

const SECRET_SQL = `SELECT md5('quantaseal') AS secret, $1::int AS n`;

describe.each(['binary', 'json'] as const)('tampering in transit through a relay between QsPool and the proxy (%s envelopes)', (form) => {
  let server: TestServer;
  let tenant: Tenant;
  let relay: Relay;
  let pool: QsPool;
  let secret: string;
  const noSessions = () => vi.waitFor(() => expect(server.ctx.dataPlane.openSessions()).toBe(0));

  beforeAll(async () => {
    server = await startTestServer();
    tenant = await provisionTenant(server, { allow: ['query', 'execute', 'transaction', 'ddl'] });
    relay = await startRelay(server.url);
    relay.jsonOnly = form === 'json';
    pool = new QsPool({ url: relay.url, apiKey: tenant.apiKey, clientKeys: tenant.clientKeysPath, integrationId: tenant.integrationId });
    const direct = new pg.Client({ connectionString: databaseUrl() });
    await direct.connect();
    secret = ((await direct.query(`SELECT md5('quantaseal') AS s`)).rows[0] as { s: string }).s;
    await direct.end();
  });
  afterAll(async () => {
    await pool?.end();
    await relay?.close();
    await server?.dispose();
  });

  it('control: the untouched relay answers the query', async () => {
    relay.target = null;
    const res = await pool.query(SECRET_SQL, [7]);
    expect(res.rows).toEqual([{ secret, n: 7 }]);
    const client = await pool.connect();
    await client.query('BEGIN');
    expect((await client.query(SECRET_SQL, [8])).rows).toEqual([{ secret, n: 8 }]);
    await client.query('COMMIT');
    client.release();
    // The release's session close goes out after release() returns; let it pass untouched.
    await noSessions();
    expect(relay.tampered).toBe(0);
    // The driver asks for the binary form; the JSON leg proves it reads JSON as well.
    expect([...relay.forms]).toEqual([form]);
  });

  const RESPONSE_FIELDS: string[][] = [
    ['encrypted', 'ciphertext_data'],
    ['encrypted', 'ciphertext_kem'],
    ['encrypted', 'nonce'],
    ['encrypted', 'key_id'],
    ['encrypted', 'tenant_id'],
    ['signature', 'pqc_signature'],
    ['signature', 'hmac_signature'],
    ['signature', 'key_id'],
    ['context', 'request_id'],
    ['context', 'request_sha256'],
    ['context', 'integration_id'],
    ['context', 'issued_at'],
    ['audit_event_id'],
  ];

  it.each(RESPONSE_FIELDS.map((p) => [p.join('.'), p] as const))('one byte of %s changed → EnvelopeVerificationError, no rows (promise and callback)', async (_name, path) => {
    relay.target = { part: 'response', path };
    const before = relay.tampered;
    const err = await pool.query(SECRET_SQL, [1]).then(
      (res) => ({ res }),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnvelopeVerificationError);
    // Nothing of the answer leaks through the error either.
    expect(JSON.stringify(err)).not.toContain(secret);
    expect(String((err as Error).message)).not.toContain(secret);

    const viaCallback = await new Promise<{ err: Error | null | undefined; res: unknown }>((resolve) => {
      pool.query(SECRET_SQL, [2], (e: Error | undefined, res: unknown) => resolve({ err: e, res }));
    });
    expect(viaCallback.err).toBeInstanceOf(EnvelopeVerificationError);
    expect(viaCallback.res).toBeUndefined();
    // Sessionless reads are retried only on connection errors, never on a bad envelope.
    expect(relay.tampered - before).toBe(2);
  });

  it('a tampered answer inside a transaction rejects and retires the client', async () => {
    relay.target = null;
    const client = await pool.connect();
    await client.query('BEGIN');
    relay.target = { part: 'response', path: ['encrypted', 'ciphertext_data'] };
    await expect(client.query(SECRET_SQL, [3])).rejects.toBeInstanceOf(EnvelopeVerificationError);
    relay.target = null;
    // The session's state is unknown after an unverifiable answer: like pg after a broken socket.
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable/);
    client.release(true);
    expect(pool.totalCount).toBe(0);
    await noSessions();
  });

  it('a request changed on its way out is refused too: the answer is bound to the bytes sent', async () => {
    relay.target = { part: 'request', path: ['request_id'] };
    const before = relay.tampered;
    await expect(pool.query(SECRET_SQL, [4])).rejects.toBeInstanceOf(EnvelopeVerificationError);
    expect(relay.tampered - before).toBe(1);
  });

  // A large answer: the ciphertext is built in pieces (body, tag) and joined once into the binary
  // form (wire-envelope.ts); the same bytes, the same checks.
  const LARGE_SQL = `SELECT g, repeat(md5(g::text), 40) AS pad FROM generate_series(1, $1::int) g`;

  it('control: a large answer (~260 kB) arrives whole, with its length, and equals what pg returns', async () => {
    relay.target = null;
    const res = await pool.query(LARGE_SQL, [200]);
    const direct = new pg.Client({ connectionString: databaseUrl() });
    await direct.connect();
    const expected = (await direct.query(LARGE_SQL, [200])).rows;
    await direct.end();
    expect(res.rows).toEqual(expected);
    expect(relay.last!.bodyLength).toBeGreaterThan(256 * 1024);
    expect(relay.last!.headers['content-length']).toBe(String(relay.last!.bodyLength));
    expect(relay.last!.headers['transfer-encoding']).toBeUndefined();
  });

  it('one byte of a large answer\'s ciphertext changed → EnvelopeVerificationError, no rows', async () => {
    relay.target = { part: 'response', path: ['encrypted', 'ciphertext_data'] };
    const before = relay.tampered;
    await expect(pool.query(LARGE_SQL, [200])).rejects.toBeInstanceOf(EnvelopeVerificationError);
    expect(relay.tampered - before).toBe(1);
  });

  // Concurrent one-shot queries travel together in one pipeline exchange with one envelope
  // (outbound-pipeline.ts): a change to that envelope must fail every call it answers.
  const PIPELINE_FIELDS: string[][] = [
    ['encrypted', 'ciphertext_data'],
    ['signature', 'hmac_signature'],
    ['signature', 'pqc_signature'],
    ['context', 'operation'],
    ['context', 'request_sha256'],
  ];
  it.each(PIPELINE_FIELDS.map((p) => [p.join('.'), p] as const))('coalesced queries: one byte of %s changed → every call rejects, no rows', async (_name, path) => {
    relay.target = { part: 'response', path };
    const pipelinesBefore = relay.paths.filter((p) => p.endsWith('/pipeline')).length;
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => pool.query(SECRET_SQL, [i])));
    expect(outcomes.map((o) => (o.status === 'rejected' && o.reason instanceof EnvelopeVerificationError ? 'refused' : o))).toEqual(outcomes.map(() => 'refused'));
    expect(relay.paths.filter((p) => p.endsWith('/pipeline')).length).toBeGreaterThan(pipelinesBefore);
  });

  it('control: coalesced queries through the untouched relay answer, each its own row', async () => {
    relay.target = null;
    const pipelinesBefore = relay.paths.filter((p) => p.endsWith('/pipeline')).length;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.query(SECRET_SQL, [i])));
    expect(results.map((r) => r.rows)).toEqual(Array.from({ length: 12 }, (_, i) => [{ secret, n: i }]));
    expect(relay.paths.filter((p) => p.endsWith('/pipeline')).length).toBeGreaterThan(pipelinesBefore);
  });

  it('control again: the same pool works once the relay stops tampering', async () => {
    relay.target = null;
    expect((await pool.query(SECRET_SQL, [5])).rows).toEqual([{ secret, n: 5 }]);
  });
});
