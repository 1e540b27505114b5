import type { FastifyInstance } from 'fastify';
import { acceptsBinaryEnvelope, ENVELOPE_BINARY_MEDIA_TYPE } from '../../protocol/wire-envelope.js';
import type { OutboundRequest } from '../../protocol/wire.js';
import type { ServerContext } from '../context.js';
import { requireApiKey } from '../http/auth.js';
import { schemas } from '../http/schemas.js';

/**
 * POST /api/v2/proxy/outbound: the data plane; answers with a HybridCryptoEnvelope — in JSON, or
 * in the binary form when the Accept header asks for it (the driver does; see wire-envelope.ts).
 */
export function registerProxyRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: OutboundRequest }>(
    '/api/v2/proxy/outbound',
    { preHandler: requireApiKey(ctx), schema: { body: schemas.outbound } },
    async (request, reply) => {
      const principal = request.principal!;
      const envelope = await ctx.dataPlane.outbound(principal, request.body, request.rawBody ?? Buffer.alloc(0));
      request.audited = true;
      reply.header('vary', 'accept');
      if (acceptsBinaryEnvelope(request.headers.accept)) return reply.type(ENVELOPE_BINARY_MEDIA_TYPE).send(envelope.toBinary());
      return envelope.toJSON();
    },
  );
}
