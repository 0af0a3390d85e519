import type { Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../core/context.js';
import { MailpassdError, type ErrorCode, type KindsOf } from '../../core/errors.js';
import { canonicalUser } from '../../auth/verify.js';
import { rotateAndWait } from '../../rotation/service.js';
import type { App } from '../server.js';
import type { AdminDeps, RouteGroup } from './deps.js';
import { sendProblem } from '../problem.js';
import { MAX_PASSWORD_BYTES } from '../../core/policy-limits.js';
import { SelfServiceBody } from './schemas.js';
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
  registerSelfServiceRoute(app, ctx, deps);
};

function registerSelfServiceRoute(app: App, ctx: Context, deps: AdminDeps): void {
  const cfg = ctx.config.self_service;
  const proxies = new TrustedProxies(cfg.trusted_proxies);
  const throttle = new SelfServiceThrottle(cfg);
  /** Every refusal at info, for the operator chasing a lockout or an attack; never a password. */
  const refuse = <C extends ErrorCode>(req: FastifyRequest, reply: FastifyReply, fields: Record<string, unknown>, code: C, detail: string, extra?: Record<string, unknown>, kind?: KindsOf<C>) => {
    req.log.info({ peer_ip: req.ip, ...fields, reason: code }, 'self-service refused');
    return sendProblem(reply, code, detail, extra, kind);
  };

  app.addHook('onRequest', async (req, reply) => {
    if (!originAllowed(req.headers.origin, req.headers.host, cfg.allowed_origins)) {
      return refuse(req, reply, { origin: req.headers.origin }, 'cross_origin', 'requests from another site\'s pages are refused');
    }
  });

  app.post<{ Body: Static<typeof SelfServiceBody> }>(
    '/v1/self-service/password',
    { schema: { tags: ['self-service'], security: [], body: SelfServiceBody } },
    async (req, reply) => {
      const { user, curpass, newpass } = req.body;
      const mailbox = canonicalUser(user);
      const clientIp = proxies.clientOf(req.ip, req.headers['x-forwarded-for']);
      const who = { user: mailbox, client_ip: clientIp };
      if (Buffer.byteLength(curpass, 'utf8') > MAX_PASSWORD_BYTES) {
        return refuse(req, reply, who, 'password_too_long', `curpass exceeds ${MAX_PASSWORD_BYTES} bytes`, {}, 'usage');
      }
      const limitedBy = throttle.tryAcquire(mailbox, clientIp);
      if (limitedBy) {
        deps.metrics.throttled.inc();
        return refuse(req, reply, { ...who, limit: limitedBy }, 'throttled', 'too many failed attempts; try again later');
      }
      const check = await deps.authenticator.verify(
        { user, password: curpass, service: 'self-service', remoteIp: clientIp ?? req.ip ?? null, localIp: null, session: null },
        { throttle: false },
      );
      throttle.settle(mailbox, clientIp, check);
      switch (check.kind) {
        case 'ok':
        case 'pass_expired': // an expired password may still be used to choose a new one
          break;
        case 'throttled':
          return refuse(req, reply, who, 'throttled', 'too many failed attempts; try again later');
        case 'internal_failure':
          return refuse(req, reply, who, 'temporarily_unavailable', 'cannot check the current password now; try again');
        case 'password_mismatch':
        case 'user_unknown':
        case 'user_disabled':
          req.log.info({ peer_ip: req.ip, ...who, reason: 'wrong_current_password', result: check.kind }, 'self-service refused');
          return sendProblem(reply, 'wrong_current_password', 'the current password is not correct');
      }
      try {
        await rotateAndWait(ctx, deps.metrics, { actor: `self:${mailbox}`, sourceIp: clientIp ?? req.ip ?? null }, {
          address: mailbox,
          password: { kind: 'given', value: newpass },
          kick: true,
          reason: 'self_service',
          waitMs: Math.min(ctx.config.rotation.wait_ms, 2_000),
          // Bound to what was verified: an admin rotation or disable in between wins.
          expected: { mailboxId: check.mailboxId, version: check.credentialVersion },
        });
      } catch (err) {
        if (!(err instanceof MailpassdError)) throw err;
        // A refused password is the user's to fix: 422 with the rules, in the body Roundcube shows.
        if (err.kind === 'refused') return refuse(req, reply, { ...who, rules: (err.details.violations as Array<{ code: string }> | undefined)?.map((v) => v.code) }, err.code, err.message, err.details);
        // Changed or deleted since the check: the later administrative act stands.
        if (err.code === 'credential_changed' || err.code === 'mailbox_not_found') {
          return refuse(req, reply, who, 'credential_changed', 'the mailbox changed after the current password was checked; nothing was changed, sign in again');
        }
        throw err;
      }
      return reply.code(200).type('text/plain; charset=utf-8').send('ok');
    },
  );
}
