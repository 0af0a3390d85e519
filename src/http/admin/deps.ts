import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../../core/context.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Authenticator } from '../../auth/verify.js';

/** What the admin listener hands its route groups besides the Context. Its own module so route groups never import the listener that registers them. */
export interface AdminDeps {
  metrics: Metrics;
  authenticator: Authenticator;
}

/** The options every admin route group is registered with. */
export interface GroupOptions {
  ctx: Context;
  deps: AdminDeps;
}

/** A group of admin routes: a fastify plugin, registered inside or outside the authenticated scope. */
export type RouteGroup = FastifyPluginAsync<GroupOptions>;
