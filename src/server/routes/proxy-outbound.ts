import type { FastifyInstance } from 'fastify';
import type { OutboundRequest } from '../../protocol/wire.js';
import type { ServerContext } from '../context.js';
import { requireApiKey } from '../http/auth.js';
import { schemas } from '../http/schemas.js';

/** POST /api/v2/proxy/outbound: the data plane; answers with a HybridCryptoEnvelope. */
export function registerProxyRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: OutboundRequest }>(
    '/api/v2/proxy/outbound',
    { preHandler: requireApiKey(ctx), schema: { body: schemas.outbound } },
    async (request) => {
      const principal = request.principal!;
      const envelope = await ctx.dataPlane.outbound(principal, request.body, request.rawBody ?? Buffer.alloc(0));
      request.audited = true;
      return envelope;
    },
  );
}
