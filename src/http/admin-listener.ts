import swagger from '@fastify/swagger';
import type { Context } from '../context.js';
import type { TokenRow } from '../store/sql/rows.js';
import { authenticateToken } from '../accounts/tokens.js';
import { createApp, type App } from './server.js';
import { sendProblem } from './problem.js';
import { registerHealth } from './health.js';
import { registerDomainRoutes } from './admin/domains.js';
import { registerMailboxRoutes } from './admin/mailboxes.js';
import { registerSelfServiceRoutes } from './admin/self-service.js';
import { registerNodeRoutes } from './admin/nodes.js';
import { Problem } from './admin/schemas.js';
import type { AdminDeps } from './admin/deps.js';
import { requireGlobalToken } from './admin/scope.js';
import { MAX_WAIT_MS } from '../rotation/wait.js';

declare module 'fastify' {
  interface FastifyRequest {
    token: TokenRow | null;
  }
}

/**
 * Routes that need no token: probes and self-service (the current password is
 * the credential), and - unless admin.metrics_require_token /
 * admin.openapi_require_token say otherwise - metrics and the API description.
 */
function publicPaths(config: Context['config']): Set<string> {
  const paths = ['/healthz', '/readyz', '/v1/self-service/password'];
  if (!config.admin.metricsRequireToken) paths.push('/metrics');
  if (!config.admin.openapiRequireToken) paths.push('/openapi.json');
  return new Set(paths);
}

export function buildAdminListener(ctx: Context, deps: AdminDeps): App {
  const app = createApp(ctx.log.child({ listener: 'admin' }), { bodyLimit: 64 * 1024, timeoutMs: ctx.config.httpTimeoutMs, longestWaitMs: MAX_WAIT_MS });
  app.decorateRequest('token', null);
  void app.register(swagger, {
    openapi: {
      info: { title: 'mailpassd admin API', version: '1', description: 'Mailbox credentials, rotation with per-node confirmation, self-service password change.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.addSchema(Problem);

  const PUBLIC = publicPaths(ctx.config);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (PUBLIC.has(path)) return;
    try {
      req.token = await authenticateToken(ctx, req.headers.authorization);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'token check failed: database unavailable');
      return sendProblem(reply, 503, 'database_unavailable', 'the database is unavailable; try again');
    }
    // One answer for missing, malformed, unknown and revoked tokens.
    if (!req.token) return sendProblem(reply, 401, 'unauthorized', 'a valid bearer token is required');
  });

  registerHealth(app, ctx);
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    // Counters and node lag are cluster-wide: not for a token limited to one domain.
    if (ctx.config.admin.metricsRequireToken) requireGlobalToken(req);
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  void app.register(async (scoped) => {
    registerDomainRoutes(scoped, ctx);
    registerMailboxRoutes(scoped, ctx, deps);
    registerSelfServiceRoutes(scoped, ctx, deps);
    registerNodeRoutes(scoped, ctx);
  });
  return app;
}
