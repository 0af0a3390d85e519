import type { Context } from '../../core/context.js';
import { getDomain } from '../../accounts/domains.js';
import { policyFor, type CandidateViolation } from '../../accounts/password.js';
import { describeRules, violationText } from '../../policy/messages.js';
import type { PolicySettings } from '../../policy/settings.js';
import type { Lang } from './i18n/index.js';
import type { RuleView } from './views/password-field.js';

export async function domainPolicy(ctx: Context, domain: string): Promise<PolicySettings> {
  return policyFor(ctx, (await getDomain(ctx, domain)).policy);
}

export const rulesOf = (policy: PolicySettings, lang: Lang): RuleView[] => describeRules(policy, lang);

/** describeRules lists one line per rule code, so a refusal fails the line with its code. */
const fails = (ruleCode: string, violationCode: string) => ruleCode === violationCode;

export interface CheckAnswer {
  rules: Array<{ code: string; text: string; state: 'ok' | 'failed' }>;
  violations: Array<{ code: string; text: string }>;
  score: number;
  ok: boolean;
}

/** What the page's script shows: each listed rule ok or failed, and every refusal named in words. */
export function checkAnswer(policy: PolicySettings, lang: Lang, check: { violations: CandidateViolation[]; score: number }): CheckAnswer {
  const violations = check.violations.map((v) => ({ code: v.code, text: violationText(v, lang) }));
  return {
    rules: rulesOf(policy, lang).map((r) => ({ ...r, state: violations.some((v) => fails(r.code, v.code)) ? 'failed' : 'ok' })),
    violations,
    score: check.score,
    ok: violations.length === 0,
  };
}

/** A refusal's violations (MailpassdError details) in words. */
export function refusalTexts(details: Record<string, unknown>, lang: Lang): string[] {
  const vs = (details.violations as CandidateViolation[] | undefined) ?? [];
  return vs.map((v) => violationText(v, lang));
}
