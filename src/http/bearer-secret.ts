import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of a shared secret presented as `Authorization: Bearer
 * <secret>` (hashes first, so lengths leak nothing). Dovecot's on the auth listener,
 * Roundcube's mailpassd driver's on the self-service routes.
 */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const token = /^Bearer (.+)$/.exec(presented ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(token), digest(expected)) && token.length > 0;
}
