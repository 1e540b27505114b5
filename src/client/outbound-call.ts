import { createHash } from 'node:crypto';
import { DecapsulationCache } from '../protocol/decapsulation-cache.js';
import { openEnvelope } from '../protocol/envelope.js';
import { ENVELOPE_BINARY_MEDIA_TYPE, isBinaryEnvelopeType } from '../protocol/wire-envelope.js';
import { EnvelopeVerificationError, QsError } from '../protocol/errors.js';
import { isQsErrorCode } from '../protocol/error-codes.js';
import { newId } from '../protocol/ids.js';
import { MerkleRootCache } from '../protocol/merkle-root-cache.js';
import type { Operation, OutboundRequest, OutboundResponsePayload, WireError, WireResult } from '../protocol/wire.js';
import type { ResolvedConfig } from './config.js';
import { isConnectionError, type QsTransportRequest, type QsTransportResponse } from './transport.js';

/** One data-plane call: what to run, and under which session. */
export interface OutboundCall {
  operation: Operation;
  payload: OutboundRequest['payload'];
  /** "new" opens a session in this round trip; `ses_…` continues one; absent = sessionless. */
  sessionId?: string | null;
}

/**
 * Sessionless reads are sent again this many times after a refused/reset connection, byte for
 * byte (the same request id): a SELECT that writes and already ran is then refused by the proxy
 * with QS_ALREADY_RUN instead of writing twice (server/proxy/request-claims.ts).
 */
export const MAX_READ_RETRIES = 2;

export const OUTBOUND_PATH = '/api/v2/proxy/outbound';

/** The driver takes envelopes in the binary form (no base64 of the rows), JSON still accepted. */
const ENVELOPE_ACCEPT = `${ENVELOPE_BINARY_MEDIA_TYPE}, application/json;q=0.5`;

/**
 * What the driver remembers per resolved config (that is, per pool and its keys): batch roots
 * already verified, so the envelopes of one server batch cost one ML-DSA-65 verify between them
 * (DESIGN §8), and decapsulations already done, so envelopes sharing a server encapsulation pay one.
 */
const openCaches = new WeakMap<ResolvedConfig, { rootCache: MerkleRootCache; kemCache: DecapsulationCache }>();
function openCachesFor(cfg: ResolvedConfig): { rootCache: MerkleRootCache; kemCache: DecapsulationCache } {
  let caches = openCaches.get(cfg);
  if (caches === undefined) openCaches.set(cfg, (caches = { rootCache: new MerkleRootCache(), kemCache: new DecapsulationCache() }));
  return caches;
}

/**
 * POST one OutboundRequest alone, then verify and open the envelope against exactly the bytes sent
 * (request id, SHA-256 of the body, tenant, integration, pinned signing keys, HMAC key).
 * Throws QsError for transport and pre-authentication failures, EnvelopeVerificationError when
 * the answer does not verify; a SQL error comes back as the payload's `error`, not as a throw.
 */
export async function callOutboundAlone(cfg: ResolvedConfig, call: OutboundCall, signal?: AbortSignal): Promise<OutboundResponsePayload> {
  // Never inside a session: the proxy runs a session's statements on its own writable connection,
  // where a SELECT that writes is not claimed, and "new" would open a second session. pg does not
  // retry either; the client is then done, as after a broken socket (qs-client.ts).
  const attempts = call.operation === 'query' && !call.sessionId ? 1 + MAX_READ_RETRIES : 1;
  const requestId = newId('request');
  const request: OutboundRequest = {
    integration_id: cfg.integrationId,
    operation: call.operation,
    payload: call.payload,
    request_id: requestId,
    ...(call.sessionId ? { session_id: call.sessionId } : {}),
    recipient_key_id: cfg.keys.recipient.keyId,
  };
  const body = Buffer.from(JSON.stringify(request), 'utf8');
  for (let attempt = 1; ; attempt++) {
    const res = await postForEnvelope(cfg, OUTBOUND_PATH, body, signal, attempt < attempts);
    if (res === 'retry') continue;
    if (res.status !== 200) throw plainError(res.status, res.body);
    return checkPayload(await openAnswer(cfg, res, requestId, body));
  }
}

/**
 * POSTs a data-plane body, asking for the binary envelope. 'retry' when the connection was
 * refused or reset before any answer and `mayRetry` (a read); any other failure throws QsError.
 */
export async function postForEnvelope(
  cfg: ResolvedConfig,
  path: string,
  body: Buffer,
  signal: AbortSignal | undefined,
  mayRetry: boolean,
): Promise<QsTransportResponse | 'retry'> {
  try {
    const req = postRequest(cfg, path, body, signal);
    req.headers.accept = ENVELOPE_ACCEPT;
    return await cfg.transport.request(req);
  } catch (err) {
    if (signal?.aborted) throw err;
    if (mayRetry && isConnectionError(err)) return 'retry';
    throw transportError(cfg, err);
  }
}

/**
 * Verifies and opens the envelope of a 200 answer against exactly the bytes sent (request id,
 * SHA-256 of the body, tenant, integration, pinned signing keys, HMAC key).
 */
export async function openAnswer(cfg: ResolvedConfig, res: QsTransportResponse, requestId: string, body: Buffer): Promise<unknown> {
  // The binary form is opened from the bytes themselves; a proxy that answers JSON (an older
  // one, or a relay that rewrote the answer) still works.
  let envelope: unknown = res.body;
  if (!isBinaryEnvelopeType(res.contentType)) {
    try {
      envelope = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new EnvelopeVerificationError();
    }
  }
  return openEnvelope(envelope, {
    tenantId: cfg.tenantId,
    requestId,
    requestSha256: createHash('sha256').update(body).digest('hex'),
    integrationId: cfg.integrationId,
    recipient: { keyId: cfg.keys.recipient.keyId, secretKey: cfg.keys.recipient.secretKey },
    signingKeys: cfg.keys.signingKeys,
    hmacKey: cfg.hmacKey,
    ...openCachesFor(cfg),
  });
}

/** The request shape every call to the proxy shares (JSON body, API key header). */
export function postRequest(cfg: Pick<ResolvedConfig, 'apiKey' | 'url'>, path: string, body: Buffer | undefined, signal?: AbortSignal, method: QsTransportRequest['method'] = 'POST'): QsTransportRequest {
  const headers: Record<string, string> = { 'x-api-key': cfg.apiKey, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return { method, path: basePath(cfg) + path, headers, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) };
}

function basePath(cfg: Pick<ResolvedConfig, 'url'>): string {
  const i = cfg.url.indexOf('/', cfg.url.indexOf('//') + 2);
  return i === -1 ? '' : cfg.url.slice(i);
}

export function transportError(cfg: Pick<ResolvedConfig, 'url'>, err: unknown): QsError {
  if (err instanceof QsError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  return new QsError('QS_TRANSPORT', `could not reach the QuantaSeal proxy at ${cfg.url}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: err });
}

/**
 * A non-200 answer: before authentication the server answers plain JSON
 * `{success:false, error:{code,message}}`; its code is kept when it is one of ours.
 */
export function plainError(status: number, body: Buffer): QsError {
  let code: unknown;
  let message: unknown;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
    code = parsed.error?.code;
    message = parsed.error?.message;
  } catch {
    // Not JSON (a load balancer's page, say): reported by status only.
  }
  const text = typeof message === 'string' ? message.slice(0, 500) : `the QuantaSeal proxy answered HTTP ${status}`;
  return new QsError(isQsErrorCode(code) ? code : 'QS_TRANSPORT', text);
}

export function checkPayload(payload: unknown): OutboundResponsePayload {
  const p = payload as Record<string, unknown> | null;
  const sessionOk = p !== null && typeof p === 'object' && (p.session_id === null || p.session_id === undefined || typeof p.session_id === 'string');
  const session_id = (p?.session_id as string | undefined) ?? null;
  // Exactly one of results and error, each of the shape the rest of the driver reads: a verified
  // payload of another shape would otherwise surface as a TypeError deep in building the result.
  if (sessionOk && p.error === undefined && Array.isArray(p.results) && p.results.every(isWireResult)) return { results: p.results, session_id };
  if (sessionOk && p.results === undefined && isWireError(p.error)) return { error: p.error, session_id };
  throw new QsError('QS_TRANSPORT', 'the QuantaSeal proxy answered with a payload this driver does not understand');
}

function isWireResult(r: unknown): r is WireResult {
  const o = r as Partial<Record<keyof WireResult, unknown>> | null;
  return typeof o === 'object' && o !== null && typeof o.command === 'string' && Array.isArray(o.fields) && Array.isArray(o.rows) && o.rows.every(Array.isArray);
}

function isWireError(e: unknown): e is WireError {
  const o = e as Partial<Record<keyof WireError, unknown>> | null;
  return typeof o === 'object' && o !== null && typeof o.code === 'string' && typeof o.message === 'string';
}
