import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { TrustedProxies } from '../trust.js';

/** How a request reached us, believing X-Forwarded-* only from a trusted proxy. */
export interface Via {
  /** Over TLS: a TLS socket of our own, or X-Forwarded-Proto https from a trusted proxy. */
  tls: boolean;
  /** The host the browser addressed (X-Forwarded-Host from a trusted proxy, else Host). */
  host: string | undefined;
  /** The end user's address: from X-Forwarded-For past our proxies, else the peer. */
  clientIp: string;
}

const first = (h: string | string[] | undefined): string | undefined => {
  const v = Array.isArray(h) ? h[0] : h;
  return v?.split(',')[0]?.trim() || undefined;
};

export function viaOf(req: FastifyRequest, proxies: TrustedProxies): Via {
  const peer = req.socket.remoteAddress ?? req.ip;
  const trusted = proxies.has(peer);
  const ownTls = (req.socket as { encrypted?: boolean }).encrypted === true;
  const forwardedProto = trusted ? first(req.headers['x-forwarded-proto'])?.toLowerCase() : undefined;
  const forwardedHost = trusted ? first(req.headers['x-forwarded-host']) : undefined;
  return {
    tls: ownTls || forwardedProto === 'https',
    host: forwardedHost ?? req.headers.host,
    clientIp: proxies.clientOf(peer, req.headers['x-forwarded-for']) ?? peer,
  };
}

/**
 * `__Host-` binds the cookie to this exact origin (Secure, Path=/, no Domain), so
 * another host under the same site cannot plant one; the prefix requires TLS,
 * so plain HTTP (loopback, tests) gets the bare name.
 */
export const cookieNameOf = (tls: boolean) => (tls ? '__Host-mailpassd_session' : 'mailpassd_session');

/** The half-signed-in state (password right, code due): a cookie of its own that no page accepts as a session. */
export const challengeCookieNameOf = (tls: boolean) => (tls ? '__Host-mailpassd_login' : 'mailpassd_login');

export function cookieOptions(tls: boolean) {
  return { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: tls };
}

/** Constant-time comparison of the session's CSRF token with what the request carries. */
export function csrfMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The origin a browser reports for a POST: Origin, or the origin of Referer when Origin is absent. */
export function originOf(req: FastifyRequest): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) return origin;
  const referer = req.headers.referer;
  if (referer === undefined) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return 'null';
  }
}
