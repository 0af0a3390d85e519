import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../core/context.js';
import { MailpassdError, type ErrorCode, type KindsOf } from '../../core/errors.js';
import { canonicalUser } from '../../auth/verify.js';
import { rotateAndWait } from '../../rotation/service.js';
import type { PolicyViolation } from '../../policy/rules.js';
import { MAX_PASSWORD_BYTES } from '../../core/policy-limits.js';
import type { AdminDeps } from './deps.js';
import { sendProblem } from '../problem.js';
import type { SelfServiceThrottle } from './self-service-guard.js';
import type { TrustedProxies } from '../trust.js';

/** What every self-service route shares: one throttle of wrong current passwords, whichever route they came by. */
export interface SelfServiceGuard {
  proxies: TrustedProxies;
  throttle: SelfServiceThrottle;
}

/** Every refusal at info, for the operator chasing a lockout or an attack; never a password. */
export function refuse<C extends ErrorCode>(req: FastifyRequest, reply: FastifyReply, fields: Record<string, unknown>, code: C, detail: string, extra?: Record<string, unknown>, kind?: KindsOf<C>) {
  req.log.info({ peer_ip: req.ip, ...fields, reason: code }, 'self-service refused');
  return sendProblem(reply, code, detail, extra, kind);
}

export interface ChangeRequest {
  user: string;
  curpass: string;
  newpass: string;
  /** The end user's address as forwarded by a trusted caller. */
  clientIp: string | null;
  /** How a policy refusal's violations are put to the user: detail and body fields. */
  explain: (violations: PolicyViolation[]) => { detail: string; extra: Record<string, unknown> };
}

/**
 * The owner's change: the current password verified like a login under the
 * self-service throttle, then a rotation bound to the credential version verified.
 * True when changed; otherwise the refusal has been sent.
 */
export async function changeOwnPassword(ctx: Context, deps: AdminDeps, guard: SelfServiceGuard, req: FastifyRequest, reply: FastifyReply, r: ChangeRequest): Promise<boolean> {
  const mailbox = canonicalUser(r.user);
  const who = { user: mailbox, client_ip: r.clientIp };
  if (Buffer.byteLength(r.curpass, 'utf8') > MAX_PASSWORD_BYTES) {
    await refuse(req, reply, who, 'password_too_long', `curpass exceeds ${MAX_PASSWORD_BYTES} bytes`, {}, 'usage');
    return false;
  }
  const limitedBy = guard.throttle.tryAcquire(mailbox, r.clientIp);
  if (limitedBy) {
    deps.metrics.throttled.inc();
    await refuse(req, reply, { ...who, limit: limitedBy }, 'throttled', 'too many failed attempts; try again later');
    return false;
  }
  const check = await deps.authenticator.verify(
    { user: r.user, password: r.curpass, service: 'self-service', remoteIp: r.clientIp ?? req.ip ?? null, localIp: null, session: null },
    { throttle: false },
  );
  guard.throttle.settle(mailbox, r.clientIp, check);
  switch (check.kind) {
    case 'ok':
    case 'pass_expired': // an expired password may still be used to choose a new one
      break;
    case 'throttled':
      await refuse(req, reply, who, 'throttled', 'too many failed attempts; try again later');
      return false;
    case 'internal_failure':
      await refuse(req, reply, who, 'temporarily_unavailable', 'cannot check the current password now; try again');
      return false;
    case 'password_mismatch':
    case 'user_unknown':
    case 'user_disabled':
      req.log.info({ peer_ip: req.ip, ...who, reason: 'wrong_current_password', result: check.kind }, 'self-service refused');
      await sendProblem(reply, 'wrong_current_password', 'the current password is not correct');
      return false;
  }
  try {
    await rotateAndWait(ctx, deps.metrics, { actor: `self:${mailbox}`, sourceIp: r.clientIp ?? req.ip ?? null }, {
      address: mailbox,
      password: { kind: 'given', value: r.newpass },
      kick: true,
      reason: 'self_service',
      waitMs: Math.min(ctx.config.rotation.wait_ms, 2_000),
      // Bound to what was verified: an admin rotation or disable in between wins.
      expected: { mailboxId: check.mailboxId, version: check.credentialVersion },
    });
  } catch (err) {
    if (!(err instanceof MailpassdError)) throw err;
    if (err.code === 'policy_refused') {
      // A refused password is the user's to fix: 422 with the rules, in the body Roundcube shows.
      const violations = err.details.violations as PolicyViolation[];
      const { detail, extra } = r.explain(violations);
      await refuse(req, reply, { ...who, rules: violations.map((v) => v.code) }, 'policy_refused', detail, extra);
      return false;
    }
    if (err.kind === 'refused') {
      await refuse(req, reply, who, err.code, err.message, err.details);
      return false;
    }
    // Changed or deleted since the check: the later administrative act stands.
    if (err.code === 'credential_changed' || err.code === 'mailbox_not_found') {
      await refuse(req, reply, who, 'credential_changed', 'the mailbox changed after the current password was checked; nothing was changed, sign in again');
      return false;
    }
    throw err;
  }
  return true;
}

