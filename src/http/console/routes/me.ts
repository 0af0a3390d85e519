import { MAX_PASSWORD_BYTES } from '../../../core/policy-limits.js';
import { Type, type Static } from '@sinclair/typebox';
import { MailpassdError } from '../../../core/errors.js';
import { findMailbox, toView } from '../../../accounts/mailboxes.js';
import { rotateAndWait } from '../../../rotation/service.js';
import type { RouteGroup } from '../../admin/deps.js';
import { actorOf, frameOf, redirect, sendPage, sessionOf } from '../guard.js';
import { domainPolicy, refusalTexts, rulesOf } from '../policy-view.js';
import { MePage } from '../views/me.js';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../../core/context.js';
import { listAppPasswords } from '../../../accounts/app-passwords.js';
import { totpState } from '../../../accounts/totp.js';

const ChangeBody = Type.Object(
  { _csrf: Type.String(), current: Type.String({ maxLength: MAX_PASSWORD_BYTES }), password: Type.String({ maxLength: MAX_PASSWORD_BYTES }), confirm: Type.String({ maxLength: MAX_PASSWORD_BYTES }), revokeAppPasswords: Type.Optional(Type.Literal('1')) },
  { additionalProperties: false },
);

/** The mailbox owner's own page: when the password changed, when it expires, and changing it with the current one. */
export const meRoutes: RouteGroup = async (app, { ctx, deps }) => {
  app.get<{ Querystring: { notice?: string; n?: string } }>('/me', async (req, reply) => {
    const t = req.t;
    const q = req.query;
    const notice =
      q.notice === 'changed' ? t.passwordChanged
      : q.notice === 'changed_revoked' ? t.passwordChangedRevoked(Number(q.n) || 0)
      : q.notice === 'totp_disabled' ? t.twoFactorDisabled
      : null;
    return sendPage(reply, await renderMe(ctx, req, { notice }));
  });

  app.post<{ Body: Static<typeof ChangeBody> }>('/me/password', { schema: { body: ChangeBody } }, async (req, reply) => {
    const session = sessionOf(req);
    const t = req.t;
    const { current, password, confirm } = req.body;
    const again = async (error: string, violations: string[], status: number) => sendPage(reply, await renderMe(ctx, req, { error, violations }), status);
    if (password !== confirm) return again(t.passwordsDiffer, [], 422);
    // The current password is checked as a login is: the login throttle, by the end user's address.
    const check = await deps.authenticator.verify({ user: session.address, password: current, service: 'console', remoteIp: req.via.clientIp, localIp: null, session: null });
    switch (check.kind) {
      case 'ok':
      case 'pass_expired':
        break;
      case 'throttled':
        return again(t.tooManyAttempts, [], 429);
      case 'internal_failure':
        return again(t.unavailable, [], 503);
      default:
        req.log.info({ user: session.address, client_ip: req.via.clientIp, reason: 'wrong_current_password' }, 'console password change refused');
        return again(t.wrongCurrent, [], 403);
    }
    const revokeAppPasswords = req.body.revokeAppPasswords === '1';
    let revoked: number;
    try {
      ({ revokedAppPasswords: revoked } = await rotateAndWait(ctx, deps.metrics, actorOf(req), {
        address: session.address,
        password: { kind: 'given', value: password },
        kick: true,
        reason: 'self_service',
        waitMs: Math.min(ctx.config.rotation.wait_ms, 2_000),
        expected: { mailboxId: check.mailboxId, version: check.credentialVersion },
        // The other console sessions of this mailbox end with the change; this one goes on.
        keepConsoleSession: session.id,
        // "I was compromised": every device's app password goes in the same rotation.
        revokeAppPasswords,
      }));
    } catch (err) {
      if (!(err instanceof MailpassdError)) throw err;
      if (err.kind === 'refused') return again(t.refusedBecause, refusalTexts(err.details, req.lang), 422);
      if (err.code === 'credential_changed' || err.code === 'mailbox_not_found') return again(t.credentialChanged, [], 409);
      throw err;
    }
    return redirect(reply, revokeAppPasswords ? `/me?notice=changed_revoked&n=${revoked}` : '/me?notice=changed');
  });
};

export interface MeExtras {
  notice?: string | null;
  error?: string | null;
  violations?: string[];
  created?: { name: string; password: string } | null;
  appPasswordError?: string | null;
  totpError?: string | null;
}

export async function renderMe(ctx: Context, req: FastifyRequest, x: MeExtras) {
  const session = sessionOf(req);
  const mailbox = toView(await findMailbox(ctx, session.address));
  const policy = await domainPolicy(ctx, mailbox.domain);
  const { appPasswords } = await listAppPasswords(ctx, session.address);
  return MePage({
    frame: frameOf(req, x.notice ?? null),
    csrf: session.csrfToken,
    me: {
      address: mailbox.address,
      displayName: mailbox.display_name,
      changedAt: mailbox.password_changed_at,
      expiresAt: mailbox.password_expires_at,
      rules: rulesOf(policy, req.lang),
      error: x.error ?? null,
      violations: x.violations ?? [],
      appPasswords: { items: appPasswords, created: x.created ?? null, error: x.appPasswordError ?? null },
      totp: await totpState(ctx, session.mailboxId),
      totpError: x.totpError ?? null,
    },
  });
}
