import { createHmac, randomInt } from 'node:crypto';

/**
 * App passwords: generated, never chosen, so their strength is known and a
 * keyed fast hash (HMAC-SHA-256) stores them safely (docs/app-passwords.md).
 *
 * Form: 4 groups of 4 characters from a 31-character alphabet without the
 * look-alikes 0/o, 1/l/i — lowercase, so a phone keyboard needs no shift.
 * 16 × log2(31) = 79.3 bits of entropy.
 */
export const APP_PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const APP_PASSWORD_GROUPS = 4;
export const APP_PASSWORD_GROUP_LENGTH = 4;
const LENGTH = APP_PASSWORD_GROUPS * APP_PASSWORD_GROUP_LENGTH;
export const APP_PASSWORD_BITS = LENGTH * Math.log2(APP_PASSWORD_ALPHABET.length);

/** Uniform over the alphabet (crypto.randomInt rejects the modulo bias), grouped with dashes. */
export function generateAppPassword(): string {
  const chars = Array.from({ length: LENGTH }, () => APP_PASSWORD_ALPHABET[randomInt(APP_PASSWORD_ALPHABET.length)]!);
  const groups: string[] = [];
  for (let i = 0; i < LENGTH; i += APP_PASSWORD_GROUP_LENGTH) groups.push(chars.slice(i, i + APP_PASSWORD_GROUP_LENGTH).join(''));
  return groups.join('-');
}

const SHAPE = new RegExp(`^[${APP_PASSWORD_ALPHABET}]{${LENGTH}}$`);

/**
 * The canonical form of what a client sent, or null when it cannot be an app
 * password (then no HMAC and no lookup: a main password costs nothing extra).
 * Dashes and spaces are optional and case is ignored: phones capitalise the
 * first letter and people type the groups without the dashes.
 */
export function canonicalAppPassword(input: string): string | null {
  if (input.length > 64) return null;
  const s = input.replace(/[\s-]/g, '').toLowerCase();
  return SHAPE.test(s) ? s : null;
}

/** HMAC-SHA-256 under the cluster key, of the canonical form. */
export function appPasswordHmac(key: Buffer, canonical: string): Buffer {
  return createHmac('sha256', key).update(canonical).digest();
}

/** What an app password may be used for; Dovecot's service names map onto these. */
export const APP_PASSWORD_SCOPES = ['imap', 'pop3', 'smtp', 'sieve'] as const;
export type AppPasswordScope = (typeof APP_PASSWORD_SCOPES)[number];

/**
 * Dovecot's `service` (2.3) / `protocol` (2.4) → scope. Postfix SASL through
 * Dovecot says `smtp`, a Dovecot submission service `submission`; ManageSieve
 * says `sieve` (2.3: `managesieve` in some setups). Anything else (doveadm,
 * self-service, an unknown name) is no scope: an app password is refused there.
 */
export function scopeOfService(service: string): AppPasswordScope | null {
  switch (service) {
    case 'imap':
      return 'imap';
    case 'pop3':
      return 'pop3';
    case 'smtp':
    case 'submission':
      return 'smtp';
    case 'sieve':
    case 'managesieve':
      return 'sieve';
    default:
      return null;
  }
}

/** `imap,smtp` → the scopes, deduplicated in canonical order; null when a name is not a scope. */
export function parseScopes(input: string | string[]): AppPasswordScope[] | null {
  const names = (Array.isArray(input) ? input : input.split(',')).map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (names.length === 0) return null;
  const set = new Set<string>();
  for (const n of names) {
    const scope = n === 'submission' ? 'smtp' : n === 'managesieve' ? 'sieve' : n;
    if (!(APP_PASSWORD_SCOPES as readonly string[]).includes(scope)) return null;
    set.add(scope);
  }
  return APP_PASSWORD_SCOPES.filter((s) => set.has(s));
}

/** `90d`, `12h`, `30m` (or a bare number of days) → milliseconds; null when unreadable or not positive. */
export function parseLifetime(input: string): number | null {
  const m = /^(\d{1,6})\s*([dhm]?)$/i.exec(input.trim());
  if (!m) return null;
  const n = Number(m[1]);
  if (n <= 0) return null;
  const unit = (m[2] ?? '').toLowerCase();
  return n * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : 86_400_000);
}
