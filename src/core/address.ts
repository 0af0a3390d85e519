import { domainToASCII } from 'node:url';
import { usage } from './errors.js';

/** What an address's local part may be at all (RFC 5321 dot-atom): enough to find a stored mailbox, whatever rule it was created under. */
const STORED_LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
/**
 * What a NEW mailbox's local part may be: a dot-atom of letters, digits and
 * `_ + -`, starting with a letter, digit or `_`. doveadm takes a leading `-`
 * as an option, `*` and `?` make `doveadm kick` a wildcard that ends other
 * users' sessions, `%` and `|` are Dovecot's variable and filter syntax, `/`
 * is a path separator in homes built from `%n`, and Dovecot's default
 * auth_username_chars refuses most of the rest anyway.
 */
const NEW_LOCAL_PART = /^[a-z0-9_][a-z0-9_+-]*(\.[a-z0-9_+-]+)*$/;
export const LOCAL_PART_RULE = 'a local part is letters a-z, digits and . _ + - only, starts with a letter, digit or _, and has no leading, trailing or double dot';
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * ASCII only, as Dovecot's `%L` / `| lower`: JavaScript's toLowerCase() also
 * folds e.g. the Kelvin sign into `k`, a spelling Dovecot would cache apart.
 */
export const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * Domains are stored lower-case in their ASCII (IDNA/punycode) form, so
 * `Bücher.Example` and `xn--bcher-kva.example` are one domain.
 */
export function normalizeDomain(input: string): string {
  const trimmed = input.trim().replace(/\.$/, '');
  if (trimmed === '' || /[\s\x00-\x1f\x7f/\\@]/.test(trimmed)) {
    throw usage('invalid_domain', `"${printable(input)}" is not a valid domain name`);
  }
  const ascii = domainToASCII(trimmed.toLowerCase());
  const labels = ascii.split('.');
  if (!ascii || ascii.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    throw usage('invalid_domain', `"${printable(input)}" is not a valid domain name`);
  }
  return ascii;
}

/**
 * `Alice@Example.ORG` → `alice@example.org`. A mailbox has exactly one
 * spelling, its stored one, accepted in any ASCII case and nothing else: no
 * trailing dot, no Unicode form of an IDN domain, no surrounding blanks.
 * This is also what the auth listener accepts as a login name, and it must be:
 * Dovecot's auth cache is keyed by the name as the client typed it (after
 * auth_username_format, which folds ASCII case), and a rotation flushes only
 * the stored spelling - any other spelling accepted here would keep its old
 * password in the cache.
 */
export function normalizeAddress(input: string, domainOf: (typed: string) => string = normalizeDomain): { address: string; localPart: string; domain: string } {
  const at = input.lastIndexOf('@');
  const local = asciiLower(input.slice(0, at));
  if (at <= 0 || local.length > 64 || !STORED_LOCAL_PART.test(local)) {
    throw usage('invalid_address', `"${printable(input)}" is not a valid mailbox address (expected local@domain, ASCII local part)`);
  }
  const typedDomain = asciiLower(input.slice(at + 1));
  let domain: string;
  try {
    domain = domainOf(typedDomain);
  } catch {
    throw usage('invalid_address', `"${printable(input)}" is not a valid mailbox address (bad domain)`);
  }
  if (domain !== typedDomain) {
    throw usage('invalid_address', `"${printable(input)}" is not how this address is written: use ${local}@${domain}`);
  }
  return { address: `${local}@${domain}`, localPart: local, domain };
}

/** The address of a mailbox about to be created (or imported): normalizeAddress plus the rule for new local parts. */
export function newMailboxAddress(input: string, domainOf: (typed: string) => string = normalizeDomain): { address: string; localPart: string; domain: string } {
  const parsed = normalizeAddress(input, domainOf);
  if (!NEW_LOCAL_PART.test(parsed.localPart)) {
    throw usage('invalid_address', `"${printable(input)}" cannot be a new mailbox: ${LOCAL_PART_RULE}`);
  }
  return parsed;
}

/**
 * normalizeDomain, remembered for up to `max` spellings (then forgotten, so
 * memory stays bounded): an import repeats a few domains over millions of
 * lines, and the IDNA conversion was most of its parsing time.
 */
export function rememberedDomains(max = 10_000): (typed: string) => string {
  const known = new Map<string, string | Error>();
  return (typed) => {
    let r = known.get(typed);
    if (r === undefined) {
      try {
        r = normalizeDomain(typed);
      } catch (err) {
        r = err as Error;
      }
      if (known.size >= max) known.clear();
      known.set(typed, r);
    }
    if (r instanceof Error) throw r;
    return r;
  };
}

/** Whether a stored address still obeys the rule for new mailboxes (doctor lists those that do not). */
export function followsNewMailboxRule(address: string): boolean {
  return NEW_LOCAL_PART.test(address.slice(0, address.lastIndexOf('@')));
}

/** Error messages quote user input; control characters must not reach a terminal or a log. */
export function printable(value: string): string {
  const cut = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
