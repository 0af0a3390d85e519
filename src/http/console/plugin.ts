import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { MailpassdError } from '../../core/errors.js';
import { findSession } from '../../accounts/console-sessions.js';
import { isDatabaseUnavailable } from '../../store/pool.js';
import { sendProblem } from '../problem.js';
import { parseStrictForm } from '../form.js';
import { originAllowed, TrustedProxies } from '../trust.js';
import type { RouteGroup } from '../admin/deps.js';
import { catalogOf, langOf } from './i18n/index.js';
import { cookieNameOf, csrfMatches, originOf, viaOf } from './request.js';
import { ConsoleStop, frameOf, isAdmin, redirect, sendPage } from './guard.js';
import { Message } from './views/layout.js';
import { authRoutes } from './routes/auth.js';
import { meRoutes } from './routes/me.js';
import { adminPages } from './routes/admin-pages.js';
import { mailboxActions } from './routes/mailbox-actions.js';
import { apiRoutes } from './routes/api.js';
import { appPasswordRoutes } from './routes/app-passwords.js';
import { totpRoutes } from './routes/totp.js';
import { totpEnabled } from '../../accounts/totp.js';

/**
 * The package's own folders, found from this module (src/http/console or
 * dist/http/console: the same depth): the hand-written stylesheet in
 * assets/console/, the compiled client scripts in dist/console-client/.
 */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ASSET_DIRS = [`${PACKAGE_ROOT}assets/console`, `${PACKAGE_ROOT}dist/console-client`].filter((dir) => existsSync(dir));

export const API_PREFIX = '/console/api/';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TOTP_ENROL_ROUTES = new Set(['/me/totp', '/me/totp/confirm', '/logout', '/login', '/login/code']);

/**
 * The web console (issue 12) on the admin listener, outside the bearer-token
 * scope: server-rendered pages whose forms post and redirect, a few JSON
 * endpoints for the scripts, static assets. Security lives here, for every
 * route below: headers (helmet, a CSP with no inline anything), the session
 * from the cookie, and on every state change the Origin check and the
 * session's CSRF token.
 */
export const consoleRoutes: RouteGroup = async (app, opts) => {
  const { ctx } = opts;
  const cfg = ctx.config.console;
  const proxies = new TrustedProxies(cfg.trusted_proxies);
  const publicOrigins = cfg.public_url ? [new URL(cfg.public_url).origin] : [];

  // Pages and the scripts' endpoints, not the admin API: kept out of /openapi.json.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  await app.register(cookie);
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // data: for the TOTP enrolment's QR code (a PNG rendered on the server).
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'same-origin' },
    // Only meaningful over TLS; a proxy in front may set its own.
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
    crossOriginEmbedderPolicy: false,
  });
  if (ASSET_DIRS.length > 0) {
    await app.register(fastifyStatic, { root: ASSET_DIRS, prefix: '/assets/', index: false, list: false, dotfiles: 'deny', cacheControl: true, maxAge: '1h' });
  }

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, parseStrictForm(body));
    } catch (err) {
      done(err as Error);
    }
  });

  app.decorateRequest('consoleSession', null);
  app.decorateRequest('consoleToken', null);
  app.decorateRequest('via');
  app.decorateRequest('lang');
  app.decorateRequest('t');

  app.addHook('onRequest', async (req) => {
    req.via = viaOf(req, proxies);
    req.lang = langOf(req.headers['accept-language']);
    req.t = catalogOf(req.lang);
    if (req.url.startsWith('/assets/')) return;
    // Only the cookie for this transport: a plain-HTTP cookie does not count over TLS.
    const token = req.cookies[cookieNameOf(req.via.tls)];
    if (token) {
      req.consoleToken = token;
      req.consoleSession = await findSession(ctx, token);
    }
  });

  // Every state change: from our own pages (Origin), and, once signed in, with the
  // session's token. Before validation, so a refused request learns nothing about the body it should have sent.
  app.addHook('preValidation', async (req, reply) => {
    if (SAFE_METHODS.has(req.method)) return;
    const origin = originOf(req);
    if (!originAllowed(origin, req.via.host, publicOrigins)) {
      req.log.info({ peer_ip: req.ip, origin, path: req.routeOptions.url, reason: 'cross_origin' }, 'console refused');
      return refuse(req, reply, 'cross_origin');
    }
    // Signing in (both steps) needs no session's token: the Origin check above is the guard against login CSRF.
    if (req.routeOptions.url === '/login' || req.routeOptions.url === '/login/code') return;
    const session = req.consoleSession;
    if (!session) return; // the route's own guard answers (303 to /login, 401 for the API)
    const given = req.headers['x-csrf-token'] ?? (req.body as Record<string, unknown> | undefined)?._csrf;
    if (!csrfMatches(session.csrfToken, given)) {
      req.log.info({ peer_ip: req.ip, path: req.routeOptions.url, reason: 'csrf' }, 'console refused');
      return refuse(req, reply, 'csrf');
    }
  });

  // console.require_totp_for_admins: an admin without a second factor reaches only its enrolment (and sign-out).
  if (cfg.require_totp_for_admins) {
    app.addHook('preHandler', async (req, reply) => {
      const s = req.consoleSession;
      if (!s || !isAdmin(s) || TOTP_ENROL_ROUTES.has(req.routeOptions.url ?? '') || req.url.startsWith('/assets/')) return;
      if (await totpEnabled(ctx, s.mailboxId)) return;
      if (req.url.startsWith(API_PREFIX)) return sendProblem(reply, 'forbidden', 'set up two-factor authentication first');
      return redirect(reply, '/me/totp');
    });
  }

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const api = req.url.startsWith(API_PREFIX);
    if (err instanceof ConsoleStop) {
      if (err.answer === 'login') {
        if (api) return sendProblem(reply, 'unauthorized', 'sign in first');
        return reply.redirect('/login', 303);
      }
      if (err.answer === 'forbidden') return refuse(req, reply, 'forbidden');
      if (api) return sendProblem(reply, 'route_not_found', 'not found');
      return sendPage(reply, Message({ frame: frameOf(req), title: req.t.notFoundTitle, text: req.t.notFoundText, status: 404 }), 404);
    }
    if (api) {
      if (err instanceof MailpassdError && err.kind !== 'internal') return sendProblem(reply, err.code, err.message, err.details);
      if (err.validation) return sendProblem(reply, 'invalid_request', `${err.validationContext ?? 'request'}${err.message.replace(/^(body|params|querystring|headers)/, '')}`);
    }
    if (err instanceof MailpassdError && err.kind === 'not_found') {
      return sendPage(reply, Message({ frame: frameOf(req), title: req.t.notFoundTitle, text: req.t.notFoundText, status: 404 }), 404);
    }
    let status = 500;
    let text = req.t.errorTitle;
    if (err instanceof MailpassdError && err.kind !== 'internal') {
      status = err.statusCode;
      text = err.message;
    } else if (err.validation || (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)) {
      status = err.statusCode ?? 400;
      text = err.message;
    } else if (isDatabaseUnavailable(err)) {
      status = 503;
      text = req.t.unavailable;
    } else {
      req.log.error({ err: { message: err.message, code: err.code, stack: err.stack } }, 'console: unhandled error');
    }
    if (api) return sendProblem(reply, status === 503 ? 'database_unavailable' : 'internal_error', text);
    return sendPage(reply, Message({ frame: frameOf(req), title: req.t.errorTitle, text, status }), status);
  });

  for (const group of [authRoutes, meRoutes, appPasswordRoutes, totpRoutes, adminPages, mailboxActions, apiRoutes]) await app.register(group, opts);
};

/** 403: as problem+json for the scripts, as a page for a form post. */
function refuse(req: FastifyRequest, reply: FastifyReply, why: 'cross_origin' | 'csrf' | 'forbidden') {
  if (req.url.startsWith(API_PREFIX)) {
    return sendProblem(reply, why === 'cross_origin' ? 'cross_origin' : 'forbidden', why === 'csrf' ? 'missing or wrong CSRF token' : 'refused');
  }
  return sendPage(reply, Message({ frame: frameOf(req), title: req.t.forbiddenTitle, text: req.t.forbiddenText, status: 403 }), 403);
}
