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
 * The hashes are verified side by side: each is a full argon2 run on libuv's thread
 * pool (which bounds how many run at once), and one after another they were most of
 * a rotation's latency (5 × ~25-110 ms). A match wins over an error; otherwise an
 * error propagates: a hash that cannot be checked must not let reuse through.
 */
export async function findReuse(
  password: string,
  previousHashes: readonly string[],
  verify: VerifyHash,
  historyCount: number = previousHashes.length,
): Promise<PolicyViolation | null> {
  const checks = await Promise.allSettled(previousHashes.slice(0, Math.max(0, historyCount)).map((hash) => verify(hash, password)));
  if (checks.some((c) => c.status === 'fulfilled' && c.value)) return reusedViolation(historyCount);
  const failed = checks.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) throw failed.reason;
  return null;
}
