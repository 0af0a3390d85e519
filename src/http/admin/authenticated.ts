import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, Context } from '../../core/context.js';
import { authenticateToken } from '../../accounts/tokens.js';
import { sendProblem } from '../problem.js';
import type { GroupOptions, RouteGroup } from './deps.js';

/** What a token may reach: everything, or one domain's mailboxes. */
export type Scope = { kind: 'global' } | { kind: 'domain'; domain: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** Who asks, for the audit log. Set by the authenticated scope's hook; routes outside it have none. */
    actor: Actor;
    /** What the bearer token may reach. Set by the authenticated scope's hook; routes outside it have none. */
    scope: Scope;
  }
}

type Who = { actor: Actor; scope: Scope };

/**
 * Checks the bearer token. On failure the answer is sent here and null returned:
 * one 401 for missing, malformed, unknown and revoked tokens alike, 503 when the
 * database cannot say.
 */
export function checkBearer(ctx: Context): (req: FastifyRequest, reply: FastifyReply) => Promise<Who | null> {
  return async (req, reply) => {
    let token;
    try {
      token = await authenticateToken(ctx, req.headers.authorization);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'token check failed: database unavailable');
      await sendProblem(reply, 'database_unavailable', 'the database is unavailable; try again');
      return null;
    }
    if (!token) {
      await sendProblem(reply, 'unauthorized', 'a valid bearer token is required');
      return null;
    }
    return {
      actor: { actor: `token:${token.name}`, sourceIp: req.ip ?? null },
      scope: token.domain === null ? { kind: 'global' } : { kind: 'domain', domain: token.domain },
    };
  };
}

/**
 * The token-protected part of the admin API. Every group registered here answers
 * only to a valid bearer token, checked in onRequest (before the body is read),
 * and finds who asks in `req.actor` and `req.scope`.
 */
export const authenticated: FastifyPluginAsync<GroupOptions & { groups: RouteGroup[] }> = async (api, { ctx, deps, groups }) => {
  api.decorateRequest('actor');
  api.decorateRequest('scope');
  const check = checkBearer(ctx);
  api.addHook('onRequest', async (req, reply) => {
    const who = await check(req, reply);
    if (!who) return reply;
    req.actor = who.actor;
    req.scope = who.scope;
  });
  for (const group of groups) await api.register(group, { ctx, deps });
};
