import { registerHealth } from '../health.js';
import type { RouteGroup } from './deps.js';
import { requireGlobalToken } from './scope.js';

/** Liveness and readiness probes: never behind a token. */
export const healthRoutes: RouteGroup = async (app, { ctx }) => {
  registerHealth(app, ctx);
};

/**
 * Prometheus text. Public unless admin.metrics_require_token puts it in the
 * authenticated scope; there, counters and node lag are cluster-wide, so not for
 * a token limited to one domain.
 */
export const metricsRoute: RouteGroup = async (app, { deps }) => {
  const behindToken = app.hasRequestDecorator('scope');
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (behindToken) requireGlobalToken(req);
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
};

/** The API description. Public unless admin.openapi_require_token puts it in the authenticated scope. */
export const openapiRoute: RouteGroup = async (app) => {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};
