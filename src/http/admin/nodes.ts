import { Type } from '@sinclair/typebox';
import { listNodes } from '../../store/sql/nodes.js';
import type { RouteGroup } from './deps.js';
import { seesNodeErrors } from './scope.js';

const Node = Type.Object({
  node_id: Type.String(),
  hostname: Type.String(),
  stale: Type.Boolean(),
  heartbeat_at: Type.String({ format: 'date-time' }),
  started_at: Type.String({ format: 'date-time' }),
  applied_invalidation_id: Type.String(),
  doveadm: Type.String(),
  // Only for global tokens (seesNodeErrors).
  last_error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /** Invalidations this node gave up on after its retry budget (not applied there). */
  failed_invalidations: Type.Integer(),
  last_failed_invalidation_id: Type.Union([Type.String(), Type.Null()]),
});

/** The cluster as the rotation sees it: which nodes are live and how far each has applied. */
export const nodeRoutes: RouteGroup = async (app, { ctx }) => {
  app.get('/v1/nodes', { schema: { tags: ['rotation'], response: { 200: Type.Array(Node) } } }, async (req) => {
    const global = seesNodeErrors(req.scope);
    return (await listNodes(ctx.pool, ctx.config.rotation.stale_after_ms)).map(({ last_error, ...n }) => ({
      ...n,
      ...(global ? { last_error } : {}),
      heartbeat_at: n.heartbeat_at.toISOString(),
      started_at: n.started_at.toISOString(),
    }));
  });
};
