import { MailpassdError } from '../../core/errors.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/context.js';
import { normalizeDomain } from '../../core/address.js';
import { reachableDomains } from '../../accounts/admins.js';
import type { ConsoleSession } from '../../accounts/console-sessions.js';
import type { Catalog, Lang } from './i18n/index.js';
import type { Via } from './request.js';
import type { Frame } from './views/layout.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in console session, or null. Set by the console's onRequest hook. */
    consoleSession: ConsoleSession | null;
    /** The raw session token from the cookie (to end it), or null. */
    consoleToken: string | null;
    via: Via;
    lang: Lang;
    t: Catalog;
  }
}

const STOP_CODES = { login: 'unauthorized', not_found: 'route_not_found', forbidden: 'forbidden' } as const;

/**
 * Thrown by the guards below and turned into the page (or JSON) answer by the
 * console's error handler: a sign-in redirect, the not-found page, a refusal.
 * A typed error with the code the JSON endpoints answer.
 */
export class ConsoleStop extends MailpassdError {
  constructor(readonly answer: keyof typeof STOP_CODES) {
    super(STOP_CODES[answer], answer);
  }
}

export function sessionOf(req: FastifyRequest): ConsoleSession {
  if (!req.consoleSession) throw new ConsoleStop('login');
  return req.consoleSession;
}

export const isAdmin = (s: ConsoleSession) => s.roles.length > 0;
export const isGlobal = (s: ConsoleSession) => s.roles.some((r) => r.kind === 'global');

export function adminOf(req: FastifyRequest): ConsoleSession {
  const s = sessionOf(req);
  // An owner asking for an admin page learns nothing: the same 404 as a domain it may not reach.
  if (!isAdmin(s)) throw new ConsoleStop('not_found');
  return s;
}

/**
 * The domain named in a URL, if this session may reach it; otherwise 404, so a
 * domain admin cannot even tell another domain exists, whatever the URL says.
 */
export function reachDomain(req: FastifyRequest, raw: string): { session: ConsoleSession; domain: string } {
  const session = adminOf(req);
  let domain: string;
  try {
    domain = normalizeDomain(raw);
  } catch {
    throw new ConsoleStop('not_found');
  }
  const reach = reachableDomains(session.roles);
  if (reach !== null && !reach.includes(domain)) throw new ConsoleStop('not_found');
  return { session, domain };
}

/** Who did it, for the audit log: `console:<address>` from the end user's address. */
export const actorOf = (req: FastifyRequest): Actor => ({ actor: `console:${sessionOf(req).address}`, sourceIp: req.via.clientIp });

export function frameOf(req: FastifyRequest, notice: string | null = null): Frame {
  const s = req.consoleSession;
  return { t: req.t, user: s ? { address: s.address, admin: isAdmin(s), csrf: s.csrfToken } : null, notice };
}

export async function sendPage(reply: FastifyReply, page: JSX.Element, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await page);
}

/** After a form post: back to a page with a notice (a code the page turns into text, never free text from the URL). */
export const redirect = (reply: FastifyReply, to: string) => reply.header('cache-control', 'no-store').redirect(to, 303);
