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
import { violationText } from './messages.js';
import type { PolicyRuleCode, PolicyViolation } from './codes.js';

export type { PolicySubject } from './personal.js';

export { POLICY_RULE_CODES, type PolicyRuleCode, type PolicyViolation } from './codes.js';

/** A refusal with its English sentence from the catalog (messages.ts) and the numbers other languages need. */
export function violation(code: PolicyRuleCode, params?: Record<string, number>): PolicyViolation {
  return params === undefined ? { code, message: violationText({ code }, 'en') } : { code, message: violationText({ code, params }, 'en'), params };
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
    out.push(violation('too_short', { min: settings.minLength }));
  }
  if (characterClasses(password) < settings.minClasses) {
    out.push(violation('too_few_classes', { min: settings.minClasses }));
  }
  return out;
}

function personalViolations(password: string, tokens: PersonalTokens): PolicyViolation[] {
  const form = canonical(password);
  const out: PolicyViolation[] = [];
  if (containsAny(form, tokens.localPart)) {
    out.push(violation('contains_local_part'));
  }
  if (containsAny(form, tokens.domain)) {
    out.push(violation('contains_domain'));
  }
  if (containsAny(form, tokens.name)) {
    out.push(violation('contains_name'));
  }
  if (containsDate(password)) {
    out.push(violation('contains_date'));
  }
  return out;
}

/** zxcvbn with the mailbox's own details as user inputs; null when not wanted. */
function scoreOf(password: string, tokens: PersonalTokens, wanted: boolean): number | null {
  if (!wanted) return null;
  const { localPart, domain, name } = tokens;
  return strengthScore(password, [...localPart, ...domain, ...name]);
}

function evaluate(password: string, subject: PolicySubject, settings: PolicySettings, wantScore: boolean): { violations: PolicyViolation[]; score: number | null } {
  const tokens = personalTokens(subject);
  // Score 0 is the floor: skip zxcvbn, the most expensive rule, when it cannot fail and nobody asked for the score.
  const score = scoreOf(password, tokens, wantScore || settings.minScore > 0);
  const weak = score !== null && score < settings.minScore ? [violation('too_weak')] : [];
  return { violations: [...lengthViolations(password, settings), ...personalViolations(password, tokens), ...weak], score };
}

/** All failing rules except `reused` (that one needs the stored hashes: see findReuse). */
export function checkPasswordRules(password: string, subject: PolicySubject, settings: PolicySettings): PolicyViolation[] {
  return evaluate(password, subject, settings, false).violations;
}

/** The same, with the zxcvbn score (0-4) the strength rule used (a strength meter shows it; zxcvbn runs once). */
export function checkPasswordRulesScored(password: string, subject: PolicySubject, settings: PolicySettings): { violations: PolicyViolation[]; score: number } {
  const { violations, score } = evaluate(password, subject, settings, true);
  return { violations, score: score ?? 0 };
}
