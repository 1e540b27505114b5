import { Pool } from 'undici';
import { QsError } from '../protocol/errors.js';

/** One HTTP request the driver or the SDK makes to the proxy. */
export interface QsTransportRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/api/v2/proxy/outbound`. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

/** The raw answer: status and the exact body bytes (the envelope is verified over what arrived). */
export interface QsTransportResponse {
  status: number;
  body: Buffer;
  /** The Content-Type header, when there was one (the envelope comes in JSON or binary). */
  contentType?: string;
}

/**
 * The seam between the driver and the network. The default is undici over keep-alive; tests (and
 * the security suite) pass their own, e.g. one that tampers with the envelope on its way back.
 * An implementation throws the underlying error for a request that got no answer at all, so the
 * caller can tell a refused/reset connection (safe to retry for reads) from everything else.
 */
export interface QsTransport {
  request(req: QsTransportRequest): Promise<QsTransportResponse>;
  /** Releases sockets; the default transport is shared per origin and ignores this. */
  close?(): Promise<void>;
}

/** Tuning for the default undici transport. */
export interface HttpTransportOptions {
  /** Sockets per proxy origin. Default 16. */
  connections?: number;
  /** Time to the response headers, ms. Default 120 s (query_timeout is the per-query bound). */
  headersTimeout?: number;
  /** Time between body chunks, ms. Default 120 s. */
  bodyTimeout?: number;
  /** TCP/TLS connect timeout, ms. Default 10 s. */
  connectTimeout?: number;
}

const shared = new Map<string, QsTransport>();

/**
 * The default transport for one proxy origin: an undici `Pool` with keep-alive and a bounded
 * number of sockets. Shared by every client of the process that talks to the same origin with the
 * same tuning, as pg shares nothing but the proxy is one HTTP peer: fewer sockets, warm TLS.
 * Idle keep-alive sockets are unref'd by undici, so they never hold the process open.
 */
export function httpTransport(origin: string, options: HttpTransportOptions = {}): QsTransport {
  const key = `${origin}|${options.connections ?? ''}|${options.headersTimeout ?? ''}|${options.bodyTimeout ?? ''}|${options.connectTimeout ?? ''}`;
  let transport = shared.get(key);
  if (transport === undefined) {
    transport = createHttpTransport(origin, options);
    shared.set(key, transport);
  }
  return transport;
}

function createHttpTransport(origin: string, options: HttpTransportOptions): QsTransport {
  const pool = new Pool(origin, {
    connections: options.connections ?? 16,
    keepAliveTimeout: 30_000,
    headersTimeout: options.headersTimeout ?? 120_000,
    bodyTimeout: options.bodyTimeout ?? 120_000,
    connect: { timeout: options.connectTimeout ?? 10_000 },
  });
  return {
    async request(req) {
      const res = await pool.request({ method: req.method, path: req.path, headers: req.headers, body: req.body ?? null, signal: req.signal });
      try {
        const contentType = res.headers['content-type'];
        return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()), ...(typeof contentType === 'string' ? { contentType } : {}) };
      } catch (err) {
        // The answer started and then broke: the request reached the server, so this is never
        // retried (hence a QsError, not the raw socket error).
        if (req.signal?.aborted) throw err;
        throw new QsError('QS_TRANSPORT', 'the connection to the QuantaSeal proxy broke while reading the answer', { cause: err });
      }
    },
  };
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

/**
 * True for an error the transport raised before any answer: a refused, reset or closed socket.
 * Only such errors are retried, and only for reads.
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof QsError || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return CONNECTION_CODES.has(String(e.code)) || CONNECTION_CODES.has(String(e.cause?.code));
}
