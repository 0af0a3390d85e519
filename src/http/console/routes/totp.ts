import { Type, type Static } from '@sinclair/typebox';
import QRCode from 'qrcode';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { confirmEnrolment, checkSecondFactor, disableTotp, startEnrolment } from '../../../accounts/totp.js';
import type { RouteGroup } from '../../admin/deps.js';
import { actorOf, frameOf, isAdmin, redirect, sendPage, sessionOf } from '../guard.js';
import { renderMe } from './me.js';
import { RecoveryCodesPage, TotpEnrolPage } from '../views/totp.js';

const CodeBody = Type.Object({ _csrf: Type.String(), code: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

/**
 * Enrolling and turning off the console's second factor on /me. Every code
 * typed here goes through the login throttle (by the end user's address and
 * the client's IP), like the sign-in's second step: six digits are few.
 */
export const totpRoutes: RouteGroup = async (app, { ctx, deps }) => {
  const throttle = deps.authenticator.throttle;

  async function enrolPage(req: FastifyRequest, reply: FastifyReply, error: string | null, status = 200) {
    const session = sessionOf(req);
    const started = await startEnrolment(ctx, session.mailboxId, session.address);
    if (!started) return redirect(reply, '/me');
    // A data: PNG: the CSP's img-src allows data:, and no inline SVG markup has to be trusted.
    const qr = await QRCode.toDataURL(started.uri, { errorCorrectionLevel: 'M', margin: 2, width: 200 });
    const required = ctx.config.console.require_totp_for_admins && isAdmin(session);
    return sendPage(reply, TotpEnrolPage({ frame: frameOf(req), csrf: session.csrfToken, qr, secret: started.secret, error, required }), status);
  }

  app.get('/me/totp', async (req, reply) => enrolPage(req, reply, null));

  app.post<{ Body: Static<typeof CodeBody> }>('/me/totp/confirm', { schema: { body: CodeBody } }, async (req, reply) => {
    const session = sessionOf(req);
    if (throttle.isLocked(session.address, req.via.clientIp)) return enrolPage(req, reply, req.t.tooManyAttempts, 429);
    const codes = await confirmEnrolment(ctx, actorOf(req), session.mailboxId, session.address, req.body.code);
    throttle.record(session.address, req.via.clientIp, codes ? 'success' : 'failure');
    if (!codes) return enrolPage(req, reply, req.t.wrongCode, 422);
    return sendPage(reply, RecoveryCodesPage({ frame: frameOf(req), codes }));
  });

  app.post<{ Body: Static<typeof CodeBody> }>('/me/totp/disable', { schema: { body: CodeBody } }, async (req, reply) => {
    const session = sessionOf(req);
    if (throttle.isLocked(session.address, req.via.clientIp)) return sendPage(reply, await renderMe(ctx, req, { totpError: req.t.tooManyAttempts }), 429);
    // A current code, not a recovery code: turning the factor off proves the app is at hand.
    const check = await checkSecondFactor(ctx, session.mailboxId, session.address, req.body.code, { recovery: false });
    throttle.record(session.address, req.via.clientIp, check.ok ? 'success' : 'failure');
    if (!check.ok) return sendPage(reply, await renderMe(ctx, req, { totpError: req.t.wrongCode }), 403);
    await disableTotp(ctx, actorOf(req), session.mailboxId, session.address);
    return redirect(reply, '/me?notice=totp_disabled');
  });
};
