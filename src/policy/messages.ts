import type { PasswordInputCode } from './password-input.js';
import type { PolicyRuleCode, PolicyViolation } from './rules.js';
import type { PolicySettings } from './settings.js';

export type Lang = 'en' | 'nl';

export interface RuleText {
  code: string;
  text: string;
}

/** Every code a password can be refused with: the policy rules (history included) and the input checks. */
export type PasswordTextCode = PolicyRuleCode | PasswordInputCode;

/** The rules of a policy, as shown before anyone types. */
export function describeRules(_policy: PolicySettings, _lang: Lang): RuleText[] {
  throw new Error('describeRules: not implemented yet');
}

/** A violation's message in a language (violation.code → text with its params). */
export function violationText(_v: Pick<PolicyViolation, 'params'> & { code: PasswordTextCode }, _lang: Lang): string {
  throw new Error('violationText: not implemented yet');
}
