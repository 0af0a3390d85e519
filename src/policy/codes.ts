/** The codes a password can be refused with, and the refusal's shape: one leaf module the rules and the text catalog both read. */

/** The policy rules (DESIGN §6), history reuse included. */
export const POLICY_RULE_CODES = [
  'too_short',
  'too_few_classes',
  'contains_local_part',
  'contains_domain',
  'contains_name',
  'contains_date',
  'too_weak',
  'reused',
] as const;
export type PolicyRuleCode = (typeof POLICY_RULE_CODES)[number];

/** Input that cannot be a password at all (password-input.ts). */
export const PASSWORD_INPUT_CODES = ['password_empty', 'password_whitespace', 'password_too_long', 'password_not_utf8', 'password_control_chars'] as const;
export type PasswordInputCode = (typeof PASSWORD_INPUT_CODES)[number];

export interface PolicyViolation {
  code: PolicyRuleCode;
  message: string;
  /** The numbers the rule's text needs in any language (policy/messages.ts): `min` for too_short and too_few_classes, `count` for reused. */
  params?: Record<string, number>;
}
