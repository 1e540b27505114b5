import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

/** Liveness, readiness (store and KMS answer) and Prometheus metrics. */
export function registerHealth(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const [name, ping] of [
      ['store', () => ctx.store.ping()],
      ['kms', () => ctx.kms.ping()],
    ] as const) {
      try {
        await ping();
        checks[name] = 'ok';
      } catch {
        checks[name] = 'unavailable';
        ready = false;
      }
    }
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks, crypto_backend: ctx.backend.name });
  });
  app.get('/metrics', async (_req, reply) => {
    ctx.metrics.sessions.set(ctx.dataPlane.openSessions());
    const signed = ctx.signer.stats();
    ctx.metrics.signerEnvelopes.set(signed.envelopes);
    ctx.metrics.signerSignatures.set(signed.signatures);
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
}
