import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { canonicalUser } from '../../../auth/verify.js';
import { createSession, endSession } from '../../../accounts/console-sessions.js';
import { appendAudit } from '../../../store/sql/audit.js';
import { MAX_PASSWORD_BYTES } from '../../../core/policy-limits.js';
import type { RouteGroup } from '../../admin/deps.js';
import { challengeCookieNameOf, cookieNameOf, cookieOptions } from '../request.js';
import { frameOf, isAdmin, redirect, sendPage } from '../guard.js';
import { LoginPage } from '../views/login.js';
import { LoginCodePage } from '../views/totp.js';
import { checkSecondFactor, createLoginChallenge, endLoginChallenge, findLoginChallenge, LOGIN_CHALLENGE_MINUTES, totpEnabled } from '../../../accounts/totp.js';

const CodeBody = Type.Object({ code: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

const LoginBody = Type.Object(
  {
    address: Type.String({ maxLength: 320 }),
    password: Type.String({ maxLength: MAX_PASSWORD_BYTES }),
  },
  { additionalProperties: false },
);

/**
 * Sign in with the mailbox's own address and password, through the same
 * Authenticator as Dovecot's logins (its throttle keyed by the end user's
 * address, argon2 queue, disabled and expired answers). Every attempt is in
 * the audit log as console.login ok/refused, never with the password.
 */
export const authRoutes: RouteGroup = async (app, { ctx, deps }) => {
  app.get('/', async (req, reply) => {
    const s = req.consoleSession;
    if (!s) return redirect(reply, '/login');
    return redirect(reply, isAdmin(s) ? '/domains' : '/me');
  });

  app.get('/login', async (req, reply) => {
    if (req.consoleSession) return redirect(reply, '/');
    return sendPage(reply, LoginPage({ frame: frameOf(req), address: '', error: null }));
  });

  app.post<{ Body: Static<typeof LoginBody> }>('/login', { schema: { body: LoginBody } }, async (req, reply) => {
    const { address, password } = req.body;
    const t = req.t;
    const user = canonicalUser(address.trim());
    const refuse = async (reason: string, text: string, status: number) => {
      await audit(req, user, 'refused', reason);
      req.log.info({ user, client_ip: req.via.clientIp, reason }, 'console login refused');
      return sendPage(reply, LoginPage({ frame: frameOf(req), address: address.trim(), error: text }), status);
    };
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES || password === '') return refuse('password_mismatch', t.wrongCredentials, 401);
    const result = await deps.authenticator.verify({
      user: address.trim(),
      password,
      service: 'console',
      remoteIp: req.via.clientIp,
      localIp: null,
      session: null,
    });
    switch (result.kind) {
      case 'ok':
      case 'pass_expired': // may sign in to choose a new one
        break;
      case 'user_disabled':
        return refuse('user_disabled', t.mailboxDisabled, 403);
      case 'throttled':
        return refuse('throttled', t.tooManyAttempts, 429);
      case 'internal_failure':
        return refuse('internal_failure', t.unavailable, 503);
      case 'password_mismatch':
      case 'user_unknown':
        return refuse(result.kind, t.wrongCredentials, 401);
    }
    if (await totpEnabled(ctx, result.mailboxId)) {
      // Half signed in: a challenge of its own, not a session; no page opens with it.
      const challenge = await createLoginChallenge(ctx, result.mailboxId);
      await audit(req, user, 'second_factor_due', result.kind, 'password');
      reply.setCookie(challengeCookieNameOf(req.via.tls), challenge, { ...cookieOptions(req.via.tls), maxAge: LOGIN_CHALLENGE_MINUTES * 60 });
      return redirect(reply, '/login/code');
    }
    return signIn(req, reply, result.mailboxId, user, result.kind, 'password');
  });

  app.get('/login/code', async (req, reply) => {
    const token = req.cookies[challengeCookieNameOf(req.via.tls)];
    if (!token || !(await findLoginChallenge(ctx, token))) return redirect(reply, '/login');
    return sendPage(reply, LoginCodePage({ frame: frameOf(req), error: null }));
  });

  /** The second step: a current code (each once) or an unused recovery code, through the login throttle. */
  app.post<{ Body: Static<typeof CodeBody> }>('/login/code', { schema: { body: CodeBody } }, async (req, reply) => {
    const t = req.t;
    const token = req.cookies[challengeCookieNameOf(req.via.tls)];
    const challenge = token ? await findLoginChallenge(ctx, token) : null;
    if (!token || !challenge) return redirect(reply, '/login');
    const user = challenge.address;
    const refuse = async (reason: string, text: string, status: number) => {
      await audit(req, user, 'refused', reason, 'totp');
      req.log.info({ user, client_ip: req.via.clientIp, reason }, 'console login refused');
      return sendPage(reply, LoginCodePage({ frame: frameOf(req), error: text }), status);
    };
    if (deps.authenticator.throttle.isLocked(user, req.via.clientIp)) return refuse('throttled', t.tooManyAttempts, 429);
    const check = await checkSecondFactor(ctx, challenge.mailboxId, user, req.body.code, { recovery: true });
    deps.authenticator.throttle.record(user, req.via.clientIp, check.ok ? 'success' : 'failure');
    if (!check.ok) return refuse('wrong_code', t.wrongCode, 401);
    await endLoginChallenge(ctx, token);
    reply.clearCookie(challengeCookieNameOf(req.via.tls), cookieOptions(req.via.tls));
    return signIn(req, reply, challenge.mailboxId, user, 'ok', check.factor);
  });

  async function signIn(req: FastifyRequest, reply: FastifyReply, mailboxId: string, user: string, reason: string, factor: string) {
    // A fresh token at every sign-in (no fixation); a session the browser still had ends.
    if (req.consoleToken) await endSession(ctx, req.consoleToken);
    const { token } = await createSession(ctx, mailboxId, { ip: req.via.clientIp, userAgent: req.headers['user-agent']?.slice(0, 256) ?? null });
    await audit(req, user, 'ok', reason, factor);
    setCookie(req, reply, token);
    return redirect(reply, '/');
  }

  app.post('/logout', async (req, reply) => {
    if (req.consoleToken) await endSession(ctx, req.consoleToken);
    reply.clearCookie(cookieNameOf(req.via.tls), cookieOptions(req.via.tls));
    return redirect(reply, '/login');
  });

  function audit(req: FastifyRequest, user: string, result: 'ok' | 'refused' | 'second_factor_due', reason: string, factor?: string) {
    return appendAudit(ctx.pool, { actor: `console:${user}`, action: 'console.login', target: user, sourceIp: req.via.clientIp, details: { result, reason, ...(factor && { factor }) } });
  }
};

function setCookie(req: FastifyRequest, reply: FastifyReply, token: string) {
  reply.setCookie(cookieNameOf(req.via.tls), token, cookieOptions(req.via.tls));
}
