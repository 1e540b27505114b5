import type { FastifyInstance } from 'fastify';
import { QsError } from '../../protocol/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact request body bytes (the envelope binds their SHA-256). */
    rawBody?: Buffer;
  }
}

/**
 * JSON body parser that keeps the raw bytes and answers malformed JSON with a stable code.
 * Also refuses prototype-pollution keys rather than silently dropping them.
 */
export function registerRawJsonParser(app: FastifyInstance): void {
  // JSON only: a text/plain body is a 415, not a string that later fails schema validation.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) {
      done(new QsError('QS_MALFORMED_JSON', 'the request body is empty'), undefined);
      return;
    }
    try {
      const text = raw.toString('utf8');
      done(null, mightNameForbiddenKey(text) ? JSON.parse(text, refuseForbiddenKeys) : JSON.parse(text));
    } catch (err) {
      done(new QsError('QS_MALFORMED_JSON', `the request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
}

function refuseForbiddenKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || key === 'constructor') throw new SyntaxError(`forbidden key "${key}"`);
  return value;
}

/**
 * False only when no key of `text` can be `__proto__` or `constructor`: neither name appears, and
 * no `\u` escape could spell one. Only such bodies skip the reviver: it calls back for every
 * value, and made parsing 1 MB of INSERT parameters 6-7x slower (19 ms against 2.9 ms here).
 */
function mightNameForbiddenKey(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');
}
