/**
 * The policy's texts for people, in English and Dutch: the rules as listed before
 * anyone types, and each violation's message. Signatures as agreed in CONSOLE.md
 * ("Data interface"); wip/console-data owns the catalog, and its version replaces
 * this one where both exist.
 */
import type { PolicyViolation } from './rules.js';
import type { PolicySettings } from './settings.js';

export type Lang = 'en' | 'nl';
export interface RuleText {
  code: string;
  text: string;
}

const CLASSES = {
  en: 'lower-case letters, upper-case letters, digits, other characters',
  nl: 'kleine letters, hoofdletters, cijfers, andere tekens',
};

export function describeRules(policy: PolicySettings, lang: Lang): RuleText[] {
  const nl = lang === 'nl';
  const rules: RuleText[] = [{ code: 'too_short', text: nl ? `Minstens ${policy.minLength} tekens.` : `At least ${policy.minLength} characters.` }];
  if (policy.minClasses > 1) {
    rules.push({ code: 'too_few_classes', text: nl ? `Minstens ${policy.minClasses} soorten tekens: ${CLASSES.nl}.` : `At least ${policy.minClasses} kinds of: ${CLASSES.en}.` });
  }
  rules.push({ code: 'contains_name', text: nl ? 'Niet uw naam, uw mailboxnaam of de domeinnaam.' : 'Not your name, your mailbox name or the domain name.' });
  rules.push({ code: 'contains_date', text: nl ? 'Geen datum of jaartal, zoals een geboortedatum.' : 'No date or year, such as a birth date.' });
  if (policy.minScore > 0) rules.push({ code: 'too_weak', text: nl ? 'Niet makkelijk te raden.' : 'Not easy to guess.' });
  if (policy.historyCount > 0) {
    rules.push({ code: 'reused', text: nl ? `Niet een van uw laatste ${policy.historyCount} wachtwoorden.` : `Not one of your last ${policy.historyCount} passwords.` });
  }
  return rules;
}

const NL: Record<PolicyViolation['code'], string> = {
  too_short: 'Het wachtwoord is te kort.',
  too_few_classes: `Het wachtwoord mengt te weinig soorten tekens (${CLASSES.nl}).`,
  contains_local_part: 'Het wachtwoord mag de mailboxnaam (het deel voor de @) niet bevatten.',
  contains_domain: 'Het wachtwoord mag de domeinnaam niet bevatten.',
  contains_name: 'Het wachtwoord mag de voor- of achternaam van de eigenaar niet bevatten.',
  contains_date: 'Het wachtwoord mag geen datum of jaartal bevatten, zoals een geboortedatum.',
  too_weak: 'Het wachtwoord is te makkelijk te raden; gebruik een langere reeks losse woorden of willekeurige tekens.',
  reused: 'Dit wachtwoord is al eerder gebruikt; kies een ander.',
};

/** English is the rule's own message (rules.ts, history.ts). */
export function violationText(v: PolicyViolation, lang: Lang): string {
  return lang === 'nl' ? NL[v.code] : v.message;
}
