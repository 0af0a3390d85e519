import { describe, expect, it } from 'vitest';
import { PASSWORD_INPUT_CODES, POLICY_RULE_CODES } from '../../src/policy/codes.js';
import { describeRules, LANGS, violationText } from '../../src/policy/messages.js';
import { checkPasswordRules } from '../../src/policy/rules.js';
import { reusedViolation } from '../../src/policy/history.js';
import { checkPasswordInput } from '../../src/policy/password-input.js';
import { DEFAULT_POLICY } from '../../src/policy/settings.js';

/** The catalog of policy texts: complete in both languages, and the source of the English messages the API sends. */
describe('policy messages', () => {
  const every = [...POLICY_RULE_CODES, ...PASSWORD_INPUT_CODES];

  it.each(every)('%s has an English and a Dutch sentence, with its numbers', (code) => {
    const params = { min: 14, count: 7 };
    const en = violationText({ code, params }, 'en');
    const nl = violationText({ code, params }, 'nl');
    expect(en).toMatch(/^[A-Z].+\.$/);
    expect(nl).toMatch(/^[A-Z].+\.$/);
    expect(nl).not.toBe(en);
    if (code === 'too_short' || code === 'too_few_classes') expect([en, nl]).toEqual([expect.stringContaining('14'), expect.stringContaining('14')]);
    if (code === 'reused') expect([en, nl]).toEqual([expect.stringContaining('7'), expect.stringContaining('7')]);
    // Without its numbers (a violation from an older node): still a sentence, no "undefined".
    for (const lang of LANGS) expect(violationText({ code }, lang)).not.toMatch(/undefined|null|NaN/);
  });

  it('the English sentence is the message the rules, the history check and the input check send', () => {
    const subject = { address: 'jan.jansen@voorbeeld.nl', displayName: 'Jan Jansen' };
    const violations = checkPasswordRules('jan1985', subject, { ...DEFAULT_POLICY, minClasses: 3 });
    expect(violations.map((v) => v.code).sort()).toEqual(['contains_date', 'contains_local_part', 'contains_name', 'too_few_classes', 'too_short', 'too_weak']);
    for (const v of [...violations, reusedViolation(5)]) expect(v.message).toBe(violationText(v, 'en'));
    const input = checkPasswordInput('');
    expect(input.ok).toBe(false);
    if (!input.ok) expect(input.message).toBe(violationText({ code: input.code }, 'en'));
  });

  it('describes the rules of a policy before anyone types, in both languages; rules that cannot fail are left out', () => {
    const rules = describeRules({ ...DEFAULT_POLICY, minLength: 12, historyCount: 5, minClasses: 1 }, 'en');
    expect(rules.map((r) => r.code)).toEqual(['too_short', 'contains_local_part', 'contains_domain', 'contains_name', 'contains_date', 'too_weak', 'reused']);
    expect(rules.find((r) => r.code === 'too_short')!.text).toBe('At least 12 characters');
    expect(rules.find((r) => r.code === 'reused')!.text).toBe('Not one of your last 5 passwords');
    const nl = describeRules({ ...DEFAULT_POLICY, minClasses: 3, minScore: 0, historyCount: 1 }, 'nl');
    expect(nl.map((r) => r.code)).toEqual(['too_short', 'too_few_classes', 'contains_local_part', 'contains_domain', 'contains_name', 'contains_date', 'reused']);
    expect(nl.find((r) => r.code === 'too_short')!.text).toBe('Minstens 12 tekens');
    expect(nl.find((r) => r.code === 'reused')!.text).toBe('Niet je huidige wachtwoord');
    for (const code of POLICY_RULE_CODES) {
      const all = { ...DEFAULT_POLICY, minClasses: 2 };
      expect(describeRules(all, 'nl').find((r) => r.code === code)?.text, code).not.toBe(describeRules(all, 'en').find((r) => r.code === code)?.text);
    }
  });
});
