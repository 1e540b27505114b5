import type { FastifyError, FastifyInstance } from 'fastify';
import { QsError } from '../../protocol/errors.js';

/** The plain-JSON error body (DESIGN §4) for answers that are not envelopes. */
export interface PlainError {
  success: false;
  error: { code: string; message: string };
}

export function plainError(err: QsError): PlainError {
  return { success: false, error: { code: err.code, message: err.message } };
}

/** Maps fastify's own errors (validation, body size, media type) onto our stable codes. */
export function toQsError(err: unknown): QsError {
  if (err instanceof QsError) return err;
  const fe = err as FastifyError;
  if (fe.validation !== undefined) return new QsError('QS_INVALID_REQUEST', `invalid request: ${fe.message}`);
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new QsError('QS_BODY_TOO_LARGE', 'the request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new QsError('QS_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new QsError('QS_MALFORMED_JSON', 'the request body is empty or its length is wrong');
    default:
      if (fe.statusCode === 404) return new QsError('QS_NOT_FOUND', 'no such route');
      return new QsError('QS_INTERNAL', 'internal error');
  }
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const qs = toQsError(err);
    if (qs.code === 'QS_INTERNAL') request.log.error({ err }, 'unhandled error');
    void reply.code(qs.statusCode).send(plainError(qs));
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send(plainError(new QsError('QS_NOT_FOUND', 'no such route')));
  });
}
