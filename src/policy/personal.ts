/**
 * Personal tokens of a mailbox (address and display name) and the comparison form that
 * makes "contains the name" insensitive to case, accents and leetspeak.
 */
import { domainToUnicode } from 'node:url';

export interface PolicySubject {
  /** Already lower-cased and IDNA-normalised, e.g. alice@example.org. */
  address: string;
  displayName: string | null;
}

export interface PersonalTokens {
  localPart: string[];
  domain: string[];
  name: string[];
}

/** Shorter tokens would match by accident in almost any password. */
export const MIN_TOKEN_LENGTH = 3;

// Leet digits/symbols to the letter they stand for. 1, !, i and l are ambiguous
// (1 reads as i or l), so all four collapse into one class, written 'l', on both sides:
// "Al1c3" and "alice" then share the form "allce".
const LEET: Readonly<Record<string, string>> = {
  '0': 'o', '1': 'l', '!': 'l', i: 'l', '3': 'e', '4': 'a', '5': 's',
  '7': 't', '8': 'b', '@': 'a', $: 's',
};

/** Lower-case, strip accents (NFKD + drop combining marks), then map leet. */
export function canonical(text: string): string {
  const plain = text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
  let out = '';
  for (const ch of plain) out += LEET[ch] ?? ch;
  return out;
}

function longEnough(text: string): boolean {
  return [...text].length >= MIN_TOKEN_LENGTH;
}

/** The whole text (if long enough) and its long-enough pieces. */
function withPieces(text: string, separators: RegExp): string[] {
  const pieces = text.split(separators).filter(longEnough);
  return longEnough(text) ? [text, ...pieces] : pieces;
}

function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  if (at < 0) return { local: address, domain: '' };
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

function domainTokens(domain: string): string[] {
  // The address is stored in IDNA (xn--) form; people type the Unicode form.
  const unicode = domainToUnicode(domain) || domain;
  // The last label is the TLD: too generic to be personal.
  const labels = unicode.split('.').slice(0, -1);
  // Hyphenated labels ("martin-family") are also checked piece by piece, like local parts.
  return labels.flatMap((label) => withPieces(label, /-+/));
}

function nameTokens(displayName: string | null): string[] {
  if (displayName === null) return [];
  // Any non-alphanumeric separates words: spaces, hyphens, apostrophes, but also the
  // comma of "Martin, Alice" and the dot of "Dr.Alice", which would otherwise stick to a word.
  return displayName.split(/[^\p{L}\p{M}\p{N}]+/u).filter(longEnough);
}

function unique(tokens: string[]): string[] {
  return [...new Set(tokens)];
}

/** Raw tokens (as written), used as zxcvbn user inputs and, canonicalised, for containment. */
export function personalTokens(subject: PolicySubject): PersonalTokens {
  const { local, domain } = splitAddress(subject.address);
  return {
    localPart: unique(withPieces(local, /[._+-]+/)),
    domain: unique(domainTokens(domain)),
    name: unique(nameTokens(subject.displayName)),
  };
}

/** True when the canonical password contains the canonical form of any token. */
export function containsAny(canonicalPassword: string, tokens: readonly string[]): boolean {
  return tokens.some((token) => {
    const form = canonical(token);
    return longEnough(form) && canonicalPassword.includes(form);
  });
}
