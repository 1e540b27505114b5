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
      done(
        null,
        JSON.parse(raw.toString('utf8'), (key, value: unknown) => {
          if (key === '__proto__' || key === 'constructor') throw new SyntaxError(`forbidden key "${key}"`);
          return value;
        }),
      );
    } catch (err) {
      done(new QsError('QS_MALFORMED_JSON', `the request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
}
