import { describe, expect, it } from 'vitest';
import {
  APP_PASSWORD_ALPHABET,
  APP_PASSWORD_BITS,
  appPasswordHmac,
  canonicalAppPassword,
  generateAppPassword,
  parseLifetime,
  parseScopes,
  scopeOfService,
} from '../../src/auth/app-password.js';

describe('app password generation', () => {
  it('is 4 groups of 4 from an alphabet without look-alikes, >= 72 bits', () => {
    expect(APP_PASSWORD_ALPHABET).toHaveLength(31);
    for (const c of '01ilo') expect(APP_PASSWORD_ALPHABET).not.toContain(c);
    expect(APP_PASSWORD_BITS).toBeGreaterThanOrEqual(72);
    expect(APP_PASSWORD_BITS).toBeCloseTo(79.26, 1);
    for (let i = 0; i < 200; i++) expect(generateAppPassword()).toMatch(/^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}$/);
  });

  it('uses every character of the alphabet and never repeats a password', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = generateAppPassword();
      seen.add(p);
      for (const c of p.replace(/-/g, '')) chars.add(c);
    }
    expect(seen.size).toBe(2000);
    expect(chars.size).toBe(APP_PASSWORD_ALPHABET.length);
  });
});

describe('canonicalAppPassword', () => {
  const p = 'abcd-efgh-jkmn-pq23';
  it('accepts the shown form, without dashes, with spaces and capitals', () => {
    for (const typed of [p, 'abcdefghjkmnpq23', 'Abcd efgh jkmn pq23', 'ABCD-EFGH-JKMN-PQ23']) expect(canonicalAppPassword(typed)).toBe('abcdefghjkmnpq23');
  });
  it('is null for anything that cannot be one (no HMAC, no lookup)', () => {
    for (const other of ['Correct-Horse-Battery-9', 'abcd-efgh-jkmn-pq2', 'abcd-efgh-jkmn-pq230', 'abcd-efgh-jkmn-pq21', 'abcd-efgh-jkmn-pqo3', '', 'x'.repeat(100)]) {
      expect(canonicalAppPassword(other), other).toBeNull();
    }
  });
  it('the HMAC depends on the key and the canonical form only', () => {
    const k1 = Buffer.alloc(32, 1);
    const k2 = Buffer.alloc(32, 2);
    expect(appPasswordHmac(k1, canonicalAppPassword(p)!)).toEqual(appPasswordHmac(k1, canonicalAppPassword('ABCDEFGHJKMNPQ23')!));
    expect(appPasswordHmac(k1, 'abcdefghjkmnpq23')).not.toEqual(appPasswordHmac(k2, 'abcdefghjkmnpq23'));
    expect(appPasswordHmac(k1, 'abcdefghjkmnpq23')).toHaveLength(32);
  });
});

describe('scopes and services', () => {
  it('maps Dovecot services onto scopes; anything else has none', () => {
    expect(scopeOfService('imap')).toBe('imap');
    expect(scopeOfService('pop3')).toBe('pop3');
    expect(scopeOfService('smtp')).toBe('smtp');
    expect(scopeOfService('submission')).toBe('smtp');
    expect(scopeOfService('sieve')).toBe('sieve');
    expect(scopeOfService('managesieve')).toBe('sieve');
    for (const s of ['self-service', 'doveadm', 'unknown', 'lmtp', '']) expect(scopeOfService(s)).toBeNull();
  });
  it('parses scope lists in canonical order, refusing unknown names', () => {
    expect(parseScopes('smtp,imap')).toEqual(['imap', 'smtp']);
    expect(parseScopes(' IMAP , submission,managesieve')).toEqual(['imap', 'smtp', 'sieve']);
    expect(parseScopes(['pop3', 'pop3'])).toEqual(['pop3']);
    expect(parseScopes('imap,ftp')).toBeNull();
    expect(parseScopes('')).toBeNull();
  });
  it('parses lifetimes', () => {
    expect(parseLifetime('90d')).toBe(90 * 86_400_000);
    expect(parseLifetime('12h')).toBe(12 * 3_600_000);
    expect(parseLifetime('30m')).toBe(30 * 60_000);
    expect(parseLifetime('7')).toBe(7 * 86_400_000);
    for (const bad of ['0d', '-1d', '1w', 'soon', '']) expect(parseLifetime(bad), bad).toBeNull();
  });
});
