/**
 * No reuse of the last N passwords (DESIGN §6). Hashing is the caller's business (argon2
 * parameters, the bounded verify queue, legacy schemes): this module only decides.
 */
import { violation, type PolicyViolation } from './rules.js';

export type VerifyHash = (hash: string, password: string) => Promise<boolean>;

export function reusedViolation(historyCount: number): PolicyViolation {
  return violation('reused', { count: historyCount });
}

/**
 * History verifies side by side, at most this many at once: one after another they
 * were most of a rotation's latency (5 × ~25-110 ms), and two at a time keep libuv's
 * pool (4 threads, shared with the login path's verifies) from being filled by one
 * rotation.
 */
const VERIFY_CONCURRENCY = 2;

/**
 * `previousHashes`: the mailbox's stored hashes, newest first (including the current one).
 * With `historyCount`, only the newest `historyCount` are checked; 0 disables the rule.
 * A match wins over an error; otherwise an error propagates: a hash that cannot be
 * checked must not let reuse through.
 */
export async function findReuse(
  password: string,
  previousHashes: readonly string[],
  verify: VerifyHash,
  historyCount: number = previousHashes.length,
): Promise<PolicyViolation | null> {
  const hashes = previousHashes.slice(0, Math.max(0, historyCount));
  let error: unknown = null;
  for (let i = 0; i < hashes.length; i += VERIFY_CONCURRENCY) {
    const checks = await Promise.allSettled(hashes.slice(i, i + VERIFY_CONCURRENCY).map((hash) => verify(hash, password)));
    if (checks.some((c) => c.status === 'fulfilled' && c.value)) return reusedViolation(historyCount);
    error ??= checks.find((c): c is PromiseRejectedResult => c.status === 'rejected')?.reason ?? null;
  }
  if (error !== null) throw error;
  return null;
}
