import type { Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../core/context.js';
import { normalizeAddress } from '../../core/address.js';
import { canonicalUser } from '../../auth/verify.js';
import { checkCandidate, policyOfDomain, type CandidateViolation } from '../../accounts/password.js';
import { describeRules, violationText, type Lang } from '../../policy/messages.js';
import type { App } from '../server.js';
import type { AdminDeps } from './deps.js';
import { secretMatches } from '../bearer-secret.js';
import {
  SelfServiceChangeAnswer,
  SelfServiceChangeBody,
  SelfServicePolicyAnswer,
  SelfServicePolicyBody,
  SelfServicePolicyCheckAnswer,
  SelfServicePolicyCheckBody,
} from './schemas.js';
import { PolicyCheckThrottle } from './self-service-guard.js';
import { changeOwnPassword, refuse, type SelfServiceGuard } from './self-service-change.js';

/** 'nl', 'nl_NL', 'nl-BE' → nl; anything else (or nothing) → en. */
export function langOf(tag: string | undefined): Lang {
  return /^nl(?:[-_]|$)/i.test(tag ?? '') ? 'nl' : 'en';
}

const problem = { $ref: 'Problem#' };
const refusals = { 400: problem, 401: problem, 404: problem, 429: problem, 503: problem };
const localized = (violations: CandidateViolation[], lang: Lang) => violations.map((v) => ({ code: v.code, message: violationText(v, lang) }));

/**
 * The routes of Roundcube's `mailpassd` password driver (config/roundcube/mailpassd.php):
 * the change, the rules of a mailbox's domain before the user types, and a check of a
 * candidate that is never stored nor logged. The caller is the webmail, which has
 * authenticated the user itself: it proves that with the shared secret
 * (self_service.secret), and so its X-Forwarded-For (the end user's address) is
 * believed. Without a configured secret these routes answer 404
 * `self_service_driver_off`: only the httpapi route works.
 */
export function registerDriverRoutes(app: App, ctx: Context, deps: AdminDeps, guard: SelfServiceGuard): void {
  const secret = ctx.config.derived.self_service_secret;
  const checks = new PolicyCheckThrottle(ctx.config.self_service);
  const authenticated = async (req: FastifyRequest, reply: FastifyReply) => {
    if (secret === null) return refuse(req, reply, {}, 'self_service_driver_off', 'self_service.secret is not set on mailpassd: the driver routes are off (the httpapi route /v1/self-service/password still works)');
    if (!secretMatches(req.headers.authorization, secret)) return refuse(req, reply, {}, 'unauthorized', 'missing or wrong self-service secret');
  };
  const clientOf = (req: FastifyRequest) => guard.proxies.clientOf(req.ip, req.headers['x-forwarded-for'], true);
  const route = (summary: string) => ({ tags: ['self-service'], summary, security: [{ selfServiceSecret: [] }] });

  app.post<{ Body: Static<typeof SelfServiceChangeBody> }>(
    '/v1/self-service/change',
    { onRequest: authenticated, schema: { ...route('the owner changes a password (Roundcube mailpassd driver)'), body: SelfServiceChangeBody, response: { 200: SelfServiceChangeAnswer, ...refusals, 403: problem, 409: problem, 422: problem } } },
    async (req, reply) => {
      const lang = langOf(req.body.lang);
      const changed = await changeOwnPassword(ctx, deps, guard, req, reply, {
        ...req.body,
        clientIp: clientOf(req),
        explain: (violations) => {
          const texts = localized(violations, lang);
          return { detail: texts.map((t) => t.message).join(' '), extra: { lang, violations: texts } };
        },
      });
      if (changed) return reply.code(200).send({ result: 'ok' as const });
      return reply;
    },
  );

  app.post<{ Body: Static<typeof SelfServicePolicyBody> }>(
    '/v1/self-service/policy',
    { onRequest: authenticated, schema: { ...route('the rules a new password of this mailbox must meet'), body: SelfServicePolicyBody, response: { 200: SelfServicePolicyAnswer, ...refusals } } },
    async (req) => {
      const lang = langOf(req.body.lang);
      // The domain's policy whether or not the mailbox exists: no answer tells which exist.
      const policy = await policyOfDomain(ctx, normalizeAddress(req.body.user).domain);
      return { lang, rules: describeRules(policy, lang) };
    },
  );

  app.post<{ Body: Static<typeof SelfServicePolicyCheckBody> }>(
    '/v1/self-service/policy-check',
    { onRequest: authenticated, schema: { ...route('checks a candidate against the policy; never stored nor logged'), body: SelfServicePolicyCheckBody, response: { 200: SelfServicePolicyCheckAnswer, ...refusals } } },
    async (req, reply) => {
      const lang = langOf(req.body.lang);
      const mailbox = canonicalUser(req.body.user);
      if (!checks.take(mailbox)) {
        deps.metrics.throttled.inc();
        return refuse(req, reply, { user: mailbox, client_ip: clientOf(req), limit: 'checks' }, 'throttled', 'too many password checks; try again later');
      }
      // An input that cannot be a password (empty, control characters) is a violation like the rules.
      const { violations, score } = await checkCandidate(ctx, req.body.user, req.body.password);
      return { lang, ok: violations.length === 0, score, violations: localized(violations, lang) };
    },
  );
}
