import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acceptsBinaryEnvelope, ENVELOPE_BINARY_MEDIA_TYPE, type WireEnvelope } from '../../protocol/wire-envelope.js';
import type { OutboundRequest, PipelineRequest } from '../../protocol/wire.js';
import type { ServerContext } from '../context.js';
import { requireApiKey } from '../http/auth.js';
import { schemas } from '../http/schemas.js';

/**
 * The data plane. POST /api/v2/proxy/outbound answers one call, POST /api/v2/proxy/pipeline
 * several independent sessionless ones; both with a HybridCryptoEnvelope, in JSON or in the
 * binary form when the Accept header asks for it (the driver does; see wire-envelope.ts).
 */
export function registerProxyRoute(app: FastifyInstance, ctx: ServerContext): void {
  const send = (request: FastifyRequest, reply: FastifyReply, envelope: WireEnvelope) => {
    request.audited = true;
    reply.header('vary', 'accept');
    if (!acceptsBinaryEnvelope(request.headers.accept)) return envelope.toJSON();
    return reply.type(ENVELOPE_BINARY_MEDIA_TYPE).send(envelope.toBinary());
  };
  app.post<{ Body: OutboundRequest }>(
    '/api/v2/proxy/outbound',
    { preHandler: requireApiKey(ctx), schema: { body: schemas.outbound } },
    async (request, reply) => {
      return send(request, reply, await ctx.dataPlane.outbound(request.principal!, request.body, request.rawBody ?? Buffer.alloc(0)));
    },
  );
  app.post<{ Body: PipelineRequest }>(
    '/api/v2/proxy/pipeline',
    { preHandler: requireApiKey(ctx), schema: { body: schemas.pipeline } },
    async (request, reply) => {
      return send(request, reply, await ctx.dataPlane.pipeline(request.principal!, request.body, request.rawBody ?? Buffer.alloc(0)));
    },
  );
}
