import swagger from '@fastify/swagger';
import type { Context } from '../core/context.js';
import { createApp, type App } from './server.js';
import { authenticated, checkBearer } from './admin/authenticated.js';
import { domainRoutes } from './admin/domains.js';
import { mailboxRoutes } from './admin/mailboxes.js';
import { appPasswordRoutes } from './admin/app-passwords.js';
import { totpRoutes } from './admin/totp.js';
import { nodeRoutes } from './admin/nodes.js';
import { adminRoutes } from './admin/admins.js';
import { selfServiceRoutes } from './admin/self-service.js';
import { healthRoutes, metricsRoute, openapiRoute } from './admin/meta.js';
import { Problem } from './admin/schemas.js';
import type { AdminDeps, RouteGroup } from './admin/deps.js';
import { MAX_WAIT_MS } from '../rotation/wait.js';
import { consoleRoutes } from './console/plugin.js';

/**
 * The admin API: route groups as fastify plugins. Those that need a token are
 * registered in the `authenticated` scope; the probes, self-service (the current
 * password is the credential) and - unless admin.metrics_require_token /
 * admin.openapi_require_token say otherwise - metrics and the API description
 * live outside it, as does the web console (src/http/console/, its own sessions).
 */
export function buildAdminListener(ctx: Context, deps: AdminDeps): App {
  const check = checkBearer(ctx);
  /** Paths of the routes outside the authenticated scope, as they register. */
  const openPaths = new Set<string>();
  const app = createApp(ctx.log.child({ listener: 'admin' }), {
    bodyLimit: 64 * 1024,
    timeoutMs: ctx.config.http_timeout_ms,
    longestWaitMs: MAX_WAIT_MS,
    // Without a valid token an unknown route answers 401, not 404: nothing about the
    // protected API is revealed before the token is checked. A wrong method on an open
    // path (GET on self-service) reveals nothing and stays a 404.
    beforeNotFound: async (req, reply) => {
      if (openPaths.has(req.url.split('?')[0]!)) return;
      if (!(await check(req, reply))) return reply;
    },
  });
  void app.register(swagger, {
    openapi: {
      info: { title: 'mailpassd admin API', version: '1', description: 'Mailbox credentials, rotation with per-node confirmation, self-service password change.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, selfServiceSecret: { type: 'http', scheme: 'bearer', description: 'self_service.secret (Roundcube mailpassd driver)' } } },
      security: [{ bearer: [] }],
    },
  });
  app.addSchema(Problem);

  const { metrics_require_token, openapi_require_token } = ctx.config.admin;
  const open: RouteGroup[] = [healthRoutes, selfServiceRoutes];
  const behindToken: RouteGroup[] = [domainRoutes, mailboxRoutes, nodeRoutes, appPasswordRoutes, totpRoutes, adminRoutes];
  (metrics_require_token ? behindToken : open).push(metricsRoute);
  (openapi_require_token ? behindToken : open).push(openapiRoute);

  void app.register(async (outside) => {
    outside.addHook('onRoute', (route) => void openPaths.add(route.url));
    for (const group of open) await outside.register(group, { ctx, deps });
  });
  void app.register(authenticated, { ctx, deps, groups: behindToken });
  // The web console: its own session cookie, CSRF token and headers; never the bearer token.
  if (ctx.config.console.enabled) void app.register(consoleRoutes, { ctx, deps });
  return app;
}
