import type { Static } from '@sinclair/typebox';
import type { Context } from '../../core/context.js';
import type { App } from '../server.js';
import type { AdminDeps, RouteGroup } from './deps.js';
import { SelfServiceBody } from './schemas.js';
import { policyRefusal } from '../../accounts/password.js';
import { registerDriverRoutes } from './self-service-driver.js';
import { changeOwnPassword, refuse, type SelfServiceGuard } from './self-service-change.js';
import { SelfServiceThrottle } from './self-service-guard.js';
import { originAllowed, TrustedProxies } from '../trust.js';
import { parseStrictForm } from '../form.js';

const FORM = 'application/x-www-form-urlencoded';

/**
 * The mailbox owner's own change, shaped for Roundcube's password plugin
 * `httpapi` driver: form-encoded (or JSON) `user`, `curpass`, `newpass`; success
 * is a 2xx whose body is `ok`. The current password is the credential and goes
 * through the same verifier as a login, under a throttle of its own (see
 * self-service-guard.ts); the change is bound to the credential version verified.
 */
export const selfServiceRoutes: RouteGroup = async (app, { ctx, deps }) => {
  // Fed by HTML forms (Roundcube's); the strict parser (see parseStrictForm),
  // in this plugin's scope only.
  app.addContentTypeParser(FORM, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, parseStrictForm(body));
    } catch (err) {
      done(err as Error);
    }
  });
  const cfg = ctx.config.self_service;
  app.addHook('onRequest', async (req, reply) => {
    if (!originAllowed(req.headers.origin, req.headers.host, cfg.allowed_origins)) {
      return refuse(req, reply, { origin: req.headers.origin }, 'cross_origin', 'requests from another site\'s pages are refused');
    }
  });
  const guard: SelfServiceGuard = { proxies: new TrustedProxies(cfg.trusted_proxies), throttle: new SelfServiceThrottle(cfg) };
  registerSelfServiceRoute(app, ctx, deps, guard);
  registerDriverRoutes(app, ctx, deps, guard);
};

function registerSelfServiceRoute(app: App, ctx: Context, deps: AdminDeps, guard: SelfServiceGuard): void {
  app.post<{ Body: Static<typeof SelfServiceBody> }>(
    '/v1/self-service/password',
    { schema: { tags: ['self-service'], security: [], body: SelfServiceBody } },
    async (req, reply) => {
      const { user, curpass, newpass } = req.body;
      const clientIp = guard.proxies.clientOf(req.ip, req.headers['x-forwarded-for']);
      const changed = await changeOwnPassword(ctx, deps, guard, req, reply, {
        user,
        curpass,
        newpass,
        clientIp,
        explain: (violations) => ({ detail: policyRefusal(violations).message, extra: { violations } }),
      });
      if (changed) return reply.code(200).type('text/plain; charset=utf-8').send('ok');
      return reply;
    },
  );
}
