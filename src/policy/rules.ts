/**
 * The password policy rules (DESIGN §6), pure and synchronous. Every failing rule is
 * reported, so a user fixes everything in one attempt. Messages are fixed sentences:
 * they never quote the password nor the personal token it matched (that would reveal a
 * piece of the password to whoever reads the response or the log).
 */
import { containsDate } from './dates.js';
import { canonical, containsAny, personalTokens, type PersonalTokens, type PolicySubject } from './personal.js';
import type { PolicySettings } from './settings.js';
import { strengthScore } from './strength.js';

export type { PolicySubject } from './personal.js';

export type PolicyRuleCode =
  | 'too_short'
  | 'too_few_classes'
  | 'contains_local_part'
  | 'contains_domain'
  | 'contains_name'
  | 'contains_date'
  | 'too_weak'
  | 'reused';

export interface PolicyViolation {
  code: PolicyRuleCode;
  message: string;
}

/** Number of character classes present: lower-case, upper-case, digit, other. */
export function characterClasses(password: string): number {
  const classes = new Set<string>();
  for (const ch of password) {
    if (/\p{Ll}/u.test(ch)) classes.add('lower');
    else if (/\p{Lu}/u.test(ch)) classes.add('upper');
    else if (/\p{Nd}/u.test(ch)) classes.add('digit');
    else classes.add('other');
  }
  return classes.size;
}

function lengthViolations(password: string, settings: PolicySettings): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  if ([...password].length < settings.minLength) {
    out.push({ code: 'too_short', message: `The password must be at least ${settings.minLength} characters long.` });
  }
  if (characterClasses(password) < settings.minClasses) {
    out.push({
      code: 'too_few_classes',
      message: `The password must mix at least ${settings.minClasses} of: lower-case letters, upper-case letters, digits, other characters.`,
    });
  }
  return out;
}

function personalViolations(password: string, tokens: PersonalTokens): PolicyViolation[] {
  const form = canonical(password);
  const out: PolicyViolation[] = [];
  if (containsAny(form, tokens.localPart)) {
    out.push({ code: 'contains_local_part', message: 'The password must not contain the mailbox name (the part before the @).' });
  }
  if (containsAny(form, tokens.domain)) {
    out.push({ code: 'contains_domain', message: 'The password must not contain the mail domain name.' });
  }
  if (containsAny(form, tokens.name)) {
    out.push({ code: 'contains_name', message: 'The password must not contain the account holder\'s first or last name.' });
  }
  if (containsDate(password)) {
    out.push({ code: 'contains_date', message: 'The password must not contain a date or a year, such as a birth date.' });
  }
  return out;
}

function strengthViolations(password: string, tokens: PersonalTokens, settings: PolicySettings): PolicyViolation[] {
  // Score 0 is the floor: skip zxcvbn, the most expensive rule, when it cannot fail.
  if (settings.minScore <= 0) return [];
  const { localPart, domain, name } = tokens;
  if (strengthScore(password, [...localPart, ...domain, ...name]) >= settings.minScore) return [];
  return [{ code: 'too_weak', message: 'The password is too easy to guess; use a longer mix of unrelated words or random characters.' }];
}

/** All failing rules except `reused` (that one needs the stored hashes: see findReuse). */
export function checkPasswordRules(password: string, subject: PolicySubject, settings: PolicySettings): PolicyViolation[] {
  const tokens = personalTokens(subject);
  return [
    ...lengthViolations(password, settings),
    ...personalViolations(password, tokens),
    ...strengthViolations(password, tokens, settings),
  ];
}

/** zxcvbn's 0-4 for a candidate, with the subject's personal details as known words: what a strength meter shows. */
export function candidateScore(password: string, subject: PolicySubject): 0 | 1 | 2 | 3 | 4 {
  const { localPart, domain, name } = personalTokens(subject);
  return strengthScore(password, [...localPart, ...domain, ...name]);
}
