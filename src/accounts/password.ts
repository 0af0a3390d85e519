import type { Context } from '../core/context.js';
import { notFound, refused } from '../core/errors.js';
import { normalizeAddress } from '../core/address.js';
import { hashPassword, verifyPassword } from '../auth/hash.js';
import { checkPasswordInput } from '../policy/password-input.js';
import type { PolicySubject, PolicyViolation } from '../policy/rules.js';
import { checkAndScoreOffThread, checkRulesOffThread, generateOffThread } from '../policy/off-thread.js';
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
  const [violations, reuse] = await Promise.all([
    checkRulesOffThread(password, subject, policy),
    findReuse(password, previousHashes.slice(0, policy.historyCount), verifyPassword),
  ]);
  if (reuse) violations.push(reuse);
  if (violations.length > 0) throw policyRefusal(violations);
  return { hash: await hashing, generated: source.kind === 'generate' ? password : null };
}

export function expiryFrom(policy: PolicySettings, now = new Date()): Date | null {
  return policy.maxAgeDays ? new Date(now.getTime() + policy.maxAgeDays * 86_400_000) : null;
}

/** The policy in force for a domain's mailboxes (the global one for a domain mailpassd does not know). */
export async function policyOfDomain(ctx: Context, domain: string): Promise<PolicySettings> {
  const dom = await getDomain(ctx.pool, domain);
  return policyFor(ctx, dom?.policy ?? null);
}

/**
 * Checks a candidate against every rule (history included) for that mailbox, as a
 * change would, plus its zxcvbn score (0-4); never stores nor logs it.
 */
export async function checkCandidate(ctx: Context, address: string, password: string): Promise<{ violations: PolicyViolation[]; score: number }> {
  const { address: canonical, domain } = normalizeAddress(address);
  const row = await getMailbox(ctx.pool, canonical);
  if (!row) throw notFound('mailbox_not_found', `mailbox ${canonical} does not exist`);
  const policy = await policyOfDomain(ctx, domain);
  const input = checkPasswordInput(password);
  if (!input.ok) throw refused(input.code, input.message);
  const history = policy.historyCount > 0 ? await recentHashes(ctx.pool, row.id, policy.historyCount) : [];
  const [checked, reuse] = await Promise.all([
    checkAndScoreOffThread(input.password, { address: row.address, displayName: row.display_name }, policy),
    findReuse(input.password, history, verifyPassword),
  ]);
  return { violations: reuse ? [...checked.violations, reuse] : checked.violations, score: checked.score };
}
