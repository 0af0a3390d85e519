/**
 * The one catalog of password policy texts, English and Dutch: the rules as
 * shown before anyone types (describeRules) and each refusal's sentence
 * (violationText). rules.ts, history.ts and password-input.ts take their
 * English messages from here, so the API, the CLI and the console say the same.
 * Texts never quote the password or the personal token it matched.
 */
import { MAX_PASSWORD_BYTES } from '../core/policy-limits.js';
import type { PasswordInputCode, PolicyRuleCode, PolicyViolation } from './codes.js';
import type { PolicySettings } from './settings.js';

export type Lang = 'en' | 'nl';
export const LANGS: readonly Lang[] = ['en', 'nl'];

export interface RuleText {
  code: string;
  text: string;
}

/** Every code a password can be refused with: the policy rules (history included) and the input checks. */
export type PasswordTextCode = PolicyRuleCode | PasswordInputCode;

type Params = Record<string, number> | undefined;
type Catalog = Record<PasswordTextCode, (p: Params) => string>;

/** A number the text needs; a violation from elsewhere without it gets the sentence without the number. */
const num = (p: Params, key: string): number | null => (typeof p?.[key] === 'number' ? p[key] : null);

const VIOLATIONS: Record<Lang, Catalog> = {
  en: {
    too_short: (p) => (num(p, 'min') === null ? 'The password is too short.' : `The password must be at least ${num(p, 'min')} characters long.`),
    too_few_classes: (p) =>
      `The password must mix at least ${num(p, 'min') ?? 'more'} of: lower-case letters, upper-case letters, digits, other characters.`,
    contains_local_part: () => 'The password must not contain the mailbox name (the part before the @).',
    contains_domain: () => 'The password must not contain the mail domain name.',
    contains_name: () => "The password must not contain the account holder's first or last name.",
    contains_date: () => 'The password must not contain a date or a year, such as a birth date.',
    too_weak: () => 'The password is too easy to guess; use a longer mix of unrelated words or random characters.',
    reused: (p) =>
      num(p, 'count') === null ? 'The password was used before; choose a new one.' : `The password was used before; choose one not among the last ${num(p, 'count')}.`,
    password_empty: () => 'The password is empty.',
    password_whitespace: () => 'The password consists only of white space.',
    password_too_long: () => `The password is longer than ${MAX_PASSWORD_BYTES} bytes (UTF-8).`,
    password_not_utf8: () => 'The password is not valid UTF-8 text.',
    password_control_chars: () => 'The password contains control characters (such as NUL, tab or newline).',
  },
  nl: {
    too_short: (p) => (num(p, 'min') === null ? 'Het wachtwoord is te kort.' : `Het wachtwoord moet minstens ${num(p, 'min')} tekens lang zijn.`),
    too_few_classes: (p) =>
      `Het wachtwoord moet minstens ${num(p, 'min') ?? 'meer'} van deze soorten tekens bevatten: kleine letters, hoofdletters, cijfers, andere tekens.`,
    contains_local_part: () => 'Het wachtwoord mag de naam van de mailbox (het deel vóór de @) niet bevatten.',
    contains_domain: () => 'Het wachtwoord mag de domeinnaam niet bevatten.',
    contains_name: () => 'Het wachtwoord mag de voor- of achternaam van de accounthouder niet bevatten.',
    contains_date: () => 'Het wachtwoord mag geen datum of jaartal bevatten, zoals een geboortedatum.',
    too_weak: () => 'Het wachtwoord is te makkelijk te raden; gebruik een langere reeks losse woorden of willekeurige tekens.',
    reused: (p) =>
      num(p, 'count') === null
        ? 'Dit wachtwoord is al eerder gebruikt; kies een nieuw wachtwoord.'
        : `Dit wachtwoord is al eerder gebruikt; kies er een dat niet bij de laatste ${num(p, 'count')} hoort.`,
    password_empty: () => 'Het wachtwoord is leeg.',
    password_whitespace: () => 'Het wachtwoord bestaat alleen uit spaties of andere witruimte.',
    password_too_long: () => `Het wachtwoord is langer dan ${MAX_PASSWORD_BYTES} bytes (UTF-8).`,
    password_not_utf8: () => 'Het wachtwoord is geen geldige UTF-8-tekst.',
    password_control_chars: () => 'Het wachtwoord bevat stuurtekens (zoals NUL, een tab of een regeleinde).',
  },
};

/** The rules shown before anyone types, one per code a password can fail on. */
const RULES: Record<Lang, Record<PolicyRuleCode, (p: PolicySettings) => string>> = {
  en: {
    too_short: (p) => `At least ${p.minLength} characters`,
    too_few_classes: (p) => `At least ${p.minClasses} of: lower-case letters, upper-case letters, digits, other characters`,
    contains_local_part: () => 'Not the mailbox name (the part before the @)',
    contains_domain: () => 'Not the domain name',
    contains_name: () => 'Not your first or last name',
    contains_date: () => 'No date or year, such as your birth date',
    too_weak: () => 'Not easy to guess',
    reused: (p) => (p.historyCount === 1 ? 'Not your current password' : `Not one of your last ${p.historyCount} passwords`),
  },
  nl: {
    too_short: (p) => `Minstens ${p.minLength} tekens`,
    too_few_classes: (p) => `Minstens ${p.minClasses} van: kleine letters, hoofdletters, cijfers, andere tekens`,
    contains_local_part: () => 'Niet de naam van de mailbox (het deel vóór de @)',
    contains_domain: () => 'Niet de domeinnaam',
    contains_name: () => 'Niet je voor- of achternaam',
    contains_date: () => 'Geen datum of jaartal, zoals je geboortedatum',
    too_weak: () => 'Niet makkelijk te raden',
    reused: (p) => (p.historyCount === 1 ? 'Niet je huidige wachtwoord' : `Niet een van je laatste ${p.historyCount} wachtwoorden`),
  },
};

/** Whether a rule can fail under a policy: one character class, score 0 and no history never do. */
const ACTIVE: Record<PolicyRuleCode, (p: PolicySettings) => boolean> = {
  too_short: () => true,
  too_few_classes: (p) => p.minClasses > 1,
  contains_local_part: () => true,
  contains_domain: () => true,
  contains_name: () => true,
  contains_date: () => true,
  too_weak: (p) => p.minScore > 0,
  reused: (p) => p.historyCount > 0,
};

/** The rules of a policy, as shown before anyone types ("at least 12 characters", "not your name", "not one of your last 5 passwords", "not easy to guess"). */
export function describeRules(policy: PolicySettings, lang: Lang): RuleText[] {
  return (Object.keys(ACTIVE) as PolicyRuleCode[]).filter((code) => ACTIVE[code](policy)).map((code) => ({ code, text: RULES[lang][code](policy) }));
}

/** A violation's message in a language (violation.code → text with its params). */
export function violationText(v: Pick<PolicyViolation, 'params'> & { code: PasswordTextCode }, lang: Lang): string {
  return VIOLATIONS[lang][v.code](v.params);
}

/** Every code with a text, for the tests that hold the catalog complete. */
export const PASSWORD_TEXT_CODES = Object.keys(VIOLATIONS.en) as PasswordTextCode[];
