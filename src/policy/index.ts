/** Password policy (DESIGN §6): input checks, rules, history, generator, settings. */
export {
  DEFAULT_POLICY,
  PolicyOverrideError,
  effectivePolicy,
  parsePolicyOverrides,
  type PolicyOverrides,
  type PolicySettings,
} from './settings.js';
export {
  MAX_PASSWORD_BYTES,
  checkPasswordInput,
  type PasswordInputCode,
  type PasswordInputResult,
} from './password-input.js';
export {
  characterClasses,
  checkPasswordRules,
  type PolicyRuleCode,
  type PolicySubject,
  type PolicyViolation,
} from './rules.js';
export { findReuse, reusedViolation, type VerifyHash } from './history.js';
export { GENERATED_LENGTH, generatePassword } from './generate.js';
