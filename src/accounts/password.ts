import type { Context } from '../core/context.js';
import { newMailboxAddress, normalizeAddress } from '../core/address.js';
import { notFound, refused } from '../core/errors.js';
import { hashPassword, verifyPassword } from '../auth/hash.js';
import { checkPasswordInput, type PasswordInputCode } from '../policy/password-input.js';
import type { PolicySubject, PolicyViolation } from '../policy/rules.js';
import { checkRulesOffThread, checkRulesScoredOffThread, generateOffThread } from '../policy/off-thread.js';
import { findReuse } from '../policy/history.js';
import { getDomain } from '../store/sql/domains.js';
import { recentHashes } from '../store/sql/history.js';
import { getMailbox } from '../store/sql/mailboxes.js';
import { configuredPolicy, effectivePolicy, parsePolicyOverrides, type PolicySettings } from '../policy/settings.js';

/** Where a new password comes from: typed by a person (string or raw stdin bytes) or generated. */
export type PasswordSource = { kind: 'given'; value: string | Buffer } | { kind: 'generate' };

export interface PreparedPassword {
  hash: string;
  /** Only set when generated: shown to the caller exactly once. */
  generated: string | null;
}

export function policyFor(ctx: Context, domainPolicy: Record<string, unknown> | null): PolicySettings {
  return effectivePolicy(configuredPolicy(ctx.config.policy), domainPolicy ? parsePolicyOverrides(domainPolicy) : null);
}

export function policyRefusal(violations: PolicyViolation[]) {
  return refused('policy_refused', `password refused: ${violations.map((v) => `${v.message} [${v.code}]`).join(' ')}`, {
    violations,
  });
}

/**
 * Validates the input, checks every policy rule (history included) and hashes.
 * Refusals name every failed rule; nothing is written by this function.
 */
export async function preparePassword(
  ctx: Context,
  source: PasswordSource,
  subject: PolicySubject,
  policy: PolicySettings,
  previousHashes: readonly string[],
): Promise<PreparedPassword> {
  let password: string;
  if (source.kind === 'generate') {
    password = await generateOffThread(subject, policy);
  } else {
    const input = checkPasswordInput(source.value);
    if (!input.ok) throw refused(input.code, input.message);
    password = input.password;
  }
  // The rules run on the policy thread while the history hashes are verified and
  // the new hash is computed here: independent, and one after another they were
  // most of a rotation's latency. A refused password's hash is simply dropped.
  const hashing = hashPassword(password, ctx.config.hash);
  hashing.catch(() => undefined); // awaited below unless refused; never an unhandled rejection
  const { violations } = await violationsOf(password, subject, policy, previousHashes, false);
  if (violations.length > 0) throw policyRefusal(violations);
  return { hash: await hashing, generated: source.kind === 'generate' ? password : null };
}

/**
 * Every rule, history included: what preparePassword refuses on and what the
 * console's live check reports. The rules run on the policy thread while the
 * history hashes are verified here.
 */
async function violationsOf(
  password: string,
  subject: PolicySubject,
  policy: PolicySettings,
  previousHashes: readonly string[],
  withScore: boolean,
): Promise<{ violations: PolicyViolation[]; score: number }> {
  const [rules, reuse] = await Promise.all([
    withScore ? checkRulesScoredOffThread(password, subject, policy) : checkRulesOffThread(password, subject, policy).then((violations) => ({ violations, score: 0 })),
    // The policy's count, not the hashes on file: the refusal names the rule ("not among the last 5") even for a mailbox with one password so far.
    findReuse(password, previousHashes, verifyPassword, policy.historyCount),
  ]);
  return { violations: reuse ? [...rules.violations, reuse] : rules.violations, score: rules.score };
}

/** A candidate typed in the console: input that cannot be a password is reported like a rule, not thrown. */
async function checkTyped(password: string, subject: PolicySubject, policy: PolicySettings, previousHashes: readonly string[]): Promise<CandidateCheck> {
  const input = checkPasswordInput(password);
  if (!input.ok) return { violations: [{ code: input.code, message: input.message }], score: 0 };
  return violationsOf(input.password, subject, policy, previousHashes, true);
}

/** Checks a candidate against every rule (history included) for that mailbox; never stores, never logs it. score: zxcvbn 0-4. */
export async function checkCandidate(ctx: Context, address: string, password: string): Promise<CandidateCheck> {
  const { address: normalized } = normalizeAddress(address);
  const row = await getMailbox(ctx.pool, normalized);
  if (!row) throw notFound('mailbox_not_found', `mailbox ${normalized} does not exist`);
  const policy = policyFor(ctx, (await getDomain(ctx.pool, row.domain))?.policy ?? null);
  const history = policy.historyCount > 0 ? await recentHashes(ctx.pool, row.id, policy.historyCount) : [];
  return checkTyped(password, { address: row.address, displayName: row.display_name }, policy, history);
}

/** The same for a mailbox not yet created (add-mailbox dialog): subject from address + display name, domain policy, no history. */
export async function checkNewCandidate(ctx: Context, address: string, displayName: string | null, password: string): Promise<CandidateCheck> {
  const { address: normalized, domain } = newMailboxAddress(address);
  const dom = await getDomain(ctx.pool, domain);
  if (!dom) throw notFound('domain_not_found', `domain ${domain} does not exist`);
  return checkTyped(password, { address: normalized, displayName: displayName?.trim() || null }, policyFor(ctx, dom.policy), []);
}

/** A rule that failed, or an input that cannot be a password at all (empty, control characters, …). */
export type CandidateViolation = PolicyViolation | { code: PasswordInputCode; message: string; params?: Record<string, number> };

export interface CandidateCheck {
  violations: CandidateViolation[];
  score: number;
}

export function expiryFrom(policy: PolicySettings, now = new Date()): Date | null {
  return policy.maxAgeDays ? new Date(now.getTime() + policy.maxAgeDays * 86_400_000) : null;
}

/** The policy in force for a domain's mailboxes (the global one for a domain mailpassd does not know). */
export async function policyOfDomain(ctx: Context, domain: string): Promise<PolicySettings> {
  return policyFor(ctx, (await getDomain(ctx.pool, domain))?.policy ?? null);
}
