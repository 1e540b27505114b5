import Fastify, { type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { newId } from '../protocol/ids.js';
import type { ServerContext } from './context.js';
import { QsError } from '../protocol/errors.js';
import { plainError, registerErrorHandler } from './http/error-handler.js';
import { REDACT_PATHS } from './http/log-redaction.js';
import { registerRawJsonParser } from './http/raw-json.js';
import { registerControlPlane } from './routes/control-plane.js';
import { registerHealth } from './routes/health.js';
import { registerProxyRoute } from './routes/proxy-outbound.js';

/**
 * The fastify app: one fixed pipeline per request (parse → validate → authenticate → handle →
 * audit → answer), every route schema-checked, logs with secrets redacted.
 */
export function buildApp(ctx: ServerContext, opts: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger === false ? false : { level: ctx.config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    bodyLimit: ctx.config.bodyLimit,
    genReqId: () => newId('request'),
    // Reject unknown fields rather than strip them, and never coerce "1" into 1.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    https: ctx.config.tls ? { cert: readFileSync(ctx.config.tls.cert), key: readFileSync(ctx.config.tls.key) } : null,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;

  registerRawJsonParser(app);
  registerErrorHandler(app);

  // One audit event per authenticated call, durable before the answer leaves (DESIGN §6).
  app.addHook('onSend', async (request, reply, payload) => {
    const principal = request.principal;
    if (principal !== undefined && request.audited !== true) {
      const status = reply.statusCode;
      const qsCode = status < 400 ? null : errorCodeOf(payload);
      try {
        await ctx.audit.append({
          id: newId('audit'),
          tenantId: principal.tenantId,
          ts: new Date().toISOString(),
          integrationId: null,
          operation: null,
          apiKeyId: principal.apiKeyId,
          requestId: request.id,
          route: `${request.method} ${request.routeOptions.url ?? request.url}`,
          fingerprint: null,
          outcome: status < 400 ? 'allowed' : status === 401 || status === 403 || status === 404 ? 'denied' : 'failed',
          sqlstate: null,
          qsCode,
          rowCount: null,
          durationMs: Math.round(reply.elapsedTime),
        });
      } catch (err) {
        // No answer without its audit event: whatever the call did, the caller hears only that
        // the server failed (the store's message, which may name paths, stays in the log).
        request.log.error({ err }, 'audit event could not be stored');
        void reply.code(500).type('application/json');
        return JSON.stringify(plainError(new QsError('QS_INTERNAL', 'internal error')));
      }
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });

  registerHealth(app, ctx);
  registerControlPlane(app, ctx);
  registerProxyRoute(app, ctx);
  return app;
}

/** The `error.code` of a plain JSON error answer, or null when the body is not one. */
function errorCodeOf(payload: unknown): string | null {
  try {
    const code = (JSON.parse(String(payload)) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}
