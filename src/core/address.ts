import { domainToASCII } from 'node:url';
import { usage } from '../errors.js';

const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

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

/** `Alice@Example.ORG` → `alice@example.org`; anything that is not one mailbox address is refused. */
export function normalizeAddress(input: string): { address: string; localPart: string; domain: string } {
  const at = input.lastIndexOf('@');
  const local = input.slice(0, at).trim().toLowerCase();
  if (at <= 0 || local.length > 64 || !LOCAL_PART.test(local)) {
    throw usage('invalid_address', `"${printable(input)}" is not a valid mailbox address (expected local@domain, ASCII local part)`);
  }
  let domain: string;
  try {
    domain = normalizeDomain(input.slice(at + 1));
  } catch {
    throw usage('invalid_address', `"${printable(input)}" is not a valid mailbox address (bad domain)`);
  }
  return { address: `${local}@${domain}`, localPart: local, domain };
}

/** Error messages quote user input; control characters must not reach a terminal or a log. */
export function printable(value: string): string {
  const cut = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
