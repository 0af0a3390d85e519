import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../context.js';

/** The audit actor of an admin request: its token's name (set by the listener's auth hook), and the peer. */
export function actorOf(req: FastifyRequest): Actor {
  return { actor: req.token ? `token:${req.token.name}` : 'anonymous', sourceIp: req.ip ?? null };
}
