import type { FastifyReply, FastifyRequest } from 'fastify';
import { QsError } from '../../protocol/errors.js';
import type { ServerContext } from '../context.js';
import type { Principal } from '../tenants/tenant-service.js';
import { adminTokenMatches } from './admin-token.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** Set by handlers that wrote their own audit event (the proxy route). */
    audited?: boolean;
  }
}

/** preHandler for tenant routes: X-API-Key → principal, or 401 QS_UNAUTHENTICATED. */
export function requireApiKey(ctx: ServerContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    request.principal = await ctx.tenants.authenticate(request.headers['x-api-key']);
  };
}

/** preHandler for operator routes: X-Admin-Token compared in constant time. */
export function requireAdminToken(ctx: ServerContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!adminTokenMatches(ctx.adminToken, request.headers['x-admin-token'])) {
      throw new QsError('QS_ADMIN_UNAUTHORIZED', 'missing or wrong X-Admin-Token');
    }
  };
}
