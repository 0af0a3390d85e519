/**
 * No reuse of the last N passwords (DESIGN §6). Hashing is the caller's business (argon2
 * parameters, the bounded verify queue, legacy schemes): this module only decides.
 */
import type { PolicyViolation } from './rules.js';

export type VerifyHash = (hash: string, password: string) => Promise<boolean>;

export function reusedViolation(historyCount: number): PolicyViolation {
  return {
    code: 'reused',
    message: `The password was used before; choose one not among the last ${historyCount}.`,
  };
}

/**
 * `previousHashes`: the mailbox's stored hashes, newest first (including the current one).
 * With `historyCount`, only the newest `historyCount` are checked; 0 disables the rule.
 * Verifies one hash at a time, stopping at the first match: each verify is a full argon2
 * run, and running them in parallel would bypass the caller's concurrency bound. The
 * early stop leaks nothing an attacker lacks: this path is already authenticated.
 * Errors from `verify` propagate: a hash that cannot be checked must not let reuse through.
 */
export async function findReuse(
  password: string,
  previousHashes: readonly string[],
  verify: VerifyHash,
  historyCount: number = previousHashes.length,
): Promise<PolicyViolation | null> {
  for (const hash of previousHashes.slice(0, Math.max(0, historyCount))) {
    if (await verify(hash, password)) return reusedViolation(historyCount);
  }
  return null;
}
