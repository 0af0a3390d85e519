import type { Context } from '../core/context.js';
import { refused } from '../core/errors.js';
import { hashPassword, verifyPassword } from '../auth/hash.js';
import { checkPasswordInput, type PasswordInputCode } from '../policy/password-input.js';
import type { PolicySubject, PolicyViolation } from '../policy/rules.js';
import { checkRulesOffThread, generateOffThread } from '../policy/off-thread.js';
import { findReuse } from '../policy/history.js';
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

/** Checks a candidate against every rule (history included) for that mailbox; never stores, never logs it. score: zxcvbn 0-4. */
export async function checkCandidate(_ctx: Context, _address: string, _password: string): Promise<CandidateCheck> {
  throw new Error('checkCandidate: not implemented yet');
}

/** The same for a mailbox not yet created (add-mailbox dialog): subject from address + display name, domain policy, no history. */
export async function checkNewCandidate(_ctx: Context, _address: string, _displayName: string | null, _password: string): Promise<CandidateCheck> {
  throw new Error('checkNewCandidate: not implemented yet');
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
