import { QsError } from '../protocol/errors.js';
import { isQsErrorCode } from '../protocol/error-codes.js';

export interface CallOptions {
  url: string;
  apiKey?: string;
  adminToken?: string;
}

/**
 * One JSON call to a running server, for the CLI. Plain-JSON errors come back as QsError with the
 * server's code; connection failures as QS_TRANSPORT naming the URL (never a key or token).
 */
export async function callJson<T>(opts: CallOptions, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
  if (opts.adminToken) headers['x-admin-token'] = opts.adminToken;
  let res: Response;
  try {
    res = await fetch(new URL(path, opts.url), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new QsError('QS_TRANSPORT', `cannot reach the QuantaSeal server at ${opts.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  const parsed = text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const e = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = isQsErrorCode(e?.code) ? e.code : 'QS_TRANSPORT';
    throw new QsError(code, `${method} ${path}: ${typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`}`);
  }
  return parsed as T;
}
