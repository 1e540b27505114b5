import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientKeysToJson, type ClientKeysJson } from '../../src/protocol/client-keys.js';
import { sealEnvelope } from '../../src/protocol/envelope.js';
import { newId } from '../../src/protocol/ids.js';
import { deriveResponseHmacKey, generateRecipientKeyPair, generateSigningKeyPair, type KeyPair } from '../../src/protocol/keys.js';
import { PIPELINE_OPERATION, type OutboundRequest, type OutboundResponsePayload, type PipelineRequest, type WireError, type WireField, type WireResult } from '../../src/protocol/wire.js';

/** What a scripted handler answers: results or a SQL/proxy error (the session id is filled in). */
export type FakeAnswer = { results: WireResult[] } | { error: WireError };

export interface FakeRequestContext {
  /** The session the request runs in after "new" was resolved, or null when sessionless. */
  sessionId: string | null;
}

export type FakeHandler = (request: OutboundRequest, ctx: FakeRequestContext) => FakeAnswer | Promise<FakeAnswer>;

/**
 * What a scripted pipeline handler answers: a payload to seal in a real envelope — of any shape,
 * so the driver's checks of a verified but wrong answer can be tested — or a plain JSON refusal
 * as the proxy gives before running anything (`{success:false, error:{code,message}}`).
 */
export type FakePipelineAnswer = { payload: unknown } | { status: number; code: string; message?: string };

/** Answers one POST /api/v2/proxy/pipeline; `raw` is the body exactly as it arrived. */
export type FakePipelineHandler = (request: PipelineRequest, raw: Buffer) => FakePipelineAnswer | Promise<FakePipelineAnswer>;

/** Extra control-plane routes for SDK tests: return undefined to fall through to 404. */
export type FakeRoute = (method: string, path: string, body: unknown) => { status: number; json: unknown } | undefined;

export interface FakeProxy {
  url: string;
  apiKey: string;
  tenantId: string;
  integrationId: string;
  /** The client keys object `quantaseal init` would write (JSON form). */
  clientKeys: ClientKeysJson;
  /** Path of that object written to a temp file (mode 0600). */
  keysPath: string;
  signer: KeyPair;
  /** Every outbound request received, parsed, in order (session closes included). */
  requests: OutboundRequest[];
  /** Sessions currently open. */
  sessions: Set<string>;
  /** Replace the scripted handler. */
  handler: FakeHandler;
  /**
   * Answers POST /api/v2/proxy/pipeline when set; when null (the default) that route is unknown
   * (404 QS_NOT_FOUND, as an older proxy answers), so the driver sends every call alone.
   */
  pipeline: FakePipelineHandler | null;
  /** The well-formed pipeline payload: each call through `handler`, sessionless, in call order. */
  answerPipeline(request: PipelineRequest): Promise<{ pipeline: unknown[] }>;
  close(): Promise<void>;
}

export interface FakeProxyOptions {
  handler?: FakeHandler;
  route?: FakeRoute;
  apiKey?: string;
  pipeline?: FakePipelineHandler;
}

/** A single text column field description, as PostgreSQL's RowDescription would give. */
export function field(name: string, dataTypeID: number, extra: Partial<WireField> = {}): WireField {
  const sizes: Record<number, number> = { 16: 1, 20: 8, 21: 2, 23: 4, 700: 4, 701: 8, 1082: 4, 1114: 8, 1184: 8 };
  return { name, tableID: 0, columnID: 0, dataTypeID, dataTypeSize: sizes[dataTypeID] ?? -1, dataTypeModifier: -1, format: 'text', ...extra };
}

/** A SELECT answer. */
export function selectResult(fields: WireField[], rows: Array<Array<string | null>>): WireResult {
  return { command: 'SELECT', rowCount: rows.length, oid: null, fields, rows };
}

/** The default handler: `SELECT $1::text AS value` echo of the first parameter, or `?column?` = 1. */
export const echoHandler: FakeHandler = (req) => {
  const payload = req.payload as { sql?: string; params?: Array<string | null> };
  if (payload.params && payload.params.length > 0) {
    return { results: [selectResult([field('value', 25)], [[payload.params[0] ?? null]])] };
  }
  return { results: [selectResult([field('?column?', 23)], [['1']])] };
};

/**
 * A small stand-in for the proxy on 127.0.0.1:0 that answers with REAL envelopes (ML-KEM-768 +
 * AES-256-GCM, ML-DSA-65 + HMAC-SHA-512) bound to the exact request bytes, plays the session
 * protocol ("new", continuing ids, {action:"close"}), and answers pre-auth failures in plain JSON.
 */
export async function startFakeProxy(options: FakeProxyOptions = {}): Promise<FakeProxy> {
  const signer = await generateSigningKeyPair();
  const recipient = await generateRecipientKeyPair();
  const apiKey = options.apiKey ?? `qs_test_${'a'.repeat(43)}`;
  const tenantId = newId('tenant');
  const integrationId = newId('integration');
  const hmacKey = deriveResponseHmacKey(apiKey, tenantId);
  const requests: OutboundRequest[] = [];
  const sessions = new Set<string>();

  const proxy = {
    apiKey,
    tenantId,
    integrationId,
    signer,
    requests,
    sessions,
    handler: options.handler ?? echoHandler,
    pipeline: options.pipeline ?? null,
    answerPipeline: async (request: PipelineRequest) => ({
      pipeline: await Promise.all(
        request.calls.map(async (call) => {
          const started = Date.now();
          const answer = await proxy.handler({ integration_id: request.integration_id, request_id: request.request_id, ...call }, { sessionId: null });
          return { ...answer, session_id: null, audit_event_id: newId('audit'), elapsed_ms: Date.now() - started };
        }),
      ),
    }),
  } as FakeProxy;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ success: false, error: { code: 'QS_INTERNAL', message: String(err) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const plain = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: false, error: { code, message } }));
    };
    /** Answers 200 with a real envelope of `payload`, bound to the request's id and exact bytes. */
    const seal = async (payload: unknown, request: { request_id: string; integration_id: string }, operation: string, success: boolean) => {
      const envelope = await sealEnvelope({
        payload,
        tenantId,
        context: {
          request_id: request.request_id,
          integration_id: request.integration_id,
          operation,
          request_sha256: createHash('sha256').update(raw).digest('hex'),
        },
        recipient: { keyId: recipient.keyId, publicKey: recipient.publicKey },
        signer: { keyId: signer.keyId, secretKey: signer.secretKey },
        hmacKey,
        auditEventId: newId('audit'),
        success,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(envelope));
    };
    if (req.headers['x-api-key'] !== apiKey) return plain(401, 'QS_UNAUTHENTICATED', 'missing or unknown API key');
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      return plain(400, 'QS_MALFORMED_JSON', 'the request body is not valid JSON');
    }
    const path = req.url ?? '/';
    if (req.method === 'POST' && path === '/api/v2/proxy/pipeline' && proxy.pipeline !== null) {
      const request = body as PipelineRequest;
      const answer = await proxy.pipeline(request, raw);
      if ('status' in answer) return plain(answer.status, answer.code, answer.message ?? 'refused');
      return seal(answer.payload, request, PIPELINE_OPERATION, true);
    }
    if (req.method !== 'POST' || path !== '/api/v2/proxy/outbound') {
      const routed = options.route?.(req.method ?? 'GET', path, body);
      if (routed === undefined) return plain(404, 'QS_NOT_FOUND', 'no such route');
      res.writeHead(routed.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(routed.json));
      return;
    }
    const request = body as OutboundRequest;
    requests.push(request);

    let payload: OutboundResponsePayload;
    const requested = request.session_id ?? null;
    if (request.operation === 'transaction' && (request.payload as { action?: string }).action === 'close') {
      if (requested !== null) sessions.delete(requested);
      payload = { results: [], session_id: null };
    } else if (requested !== null && requested !== 'new' && !sessions.has(requested)) {
      payload = { error: { code: '08003', message: 'session not found', qs_code: 'QS_SESSION_NOT_FOUND' }, session_id: null };
    } else {
      let sessionId = requested;
      if (sessionId === 'new') {
        sessionId = newId('session');
        sessions.add(sessionId);
      }
      const answer = await proxy.handler(request, { sessionId });
      payload = { ...answer, session_id: sessionId } as OutboundResponsePayload;
    }

    await seal(payload, request, request.operation, !('error' in payload));
  }


  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  proxy.url = `http://127.0.0.1:${port}`;
  proxy.clientKeys = clientKeysToJson({
    version: 1,
    url: proxy.url,
    tenantId,
    integrationId,
    recipient,
    signingKeys: [{ keyId: signer.keyId, publicKey: signer.publicKey }],
  });
  proxy.keysPath = join(mkdtempSync(join(tmpdir(), 'qs-fake-')), 'client-keys.json');
  writeFileSync(proxy.keysPath, JSON.stringify(proxy.clientKeys), { mode: 0o600 });
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

/** The query `whileInFlight` holds at the fake until a round is over. */
export const WARM_SQL = 'SELECT pg_sleep(10) AS warm';

/**
 * Runs `start` while WARM_SQL is in flight at `proxy` (it has arrived there and is held), so the
 * calls `start` makes in one tick are queued together by the driver and travel in one pipeline;
 * their outcomes once all have settled. The handler is `echoHandler` (or `handler`) meanwhile.
 */
export async function whileInFlight<T>(
  proxy: FakeProxy,
  pool: { query(sql: string): Promise<unknown> },
  start: () => Array<Promise<T>>,
  handler: FakeHandler = echoHandler,
): Promise<Array<PromiseSettledResult<T>>> {
  let arrived!: () => void;
  let release!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  proxy.handler = async (request, ctx) => {
    if ((request.payload as { sql?: string }).sql === WARM_SQL) {
      arrived();
      await released;
    }
    return handler(request, ctx);
  };
  const warm = pool.query(WARM_SQL);
  await inFlight;
  try {
    return await Promise.allSettled(start());
  } finally {
    release();
    await warm;
    proxy.handler = echoHandler;
  }
}
