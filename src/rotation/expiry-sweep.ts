import { withTransaction, type Pool } from '../store/pool.js';
import { sweepExpiredBatch, tryExpirySweepLock } from '../store/sql/app-passwords.js';
import { notifyInvalidation } from '../store/sql/invalidations.js';

const BATCH = 500;

/**
 * Expired app passwords stop working at once, also in Dovecot's auth cache
 * (issue 13). mailpassd refuses an app password from its `expires_at` on, but
 * a Dovecot that cached it would accept it until `auth_cache_ttl`. So, every
 * `app_passwords.expiry_sweep_interval_ms`, one daemon (the one that gets the
 * sweep's advisory lock, as retention pruning and the notice scan pick theirs)
 * appends for each app password expired since the last sweep the invalidation
 * a revocation writes: every node flushes its Dovecot's cache for the user and
 * kicks that device's sessions (or the mailbox's, where Dovecot cannot tell
 * them apart). Each expiry is stamped in the same statement, so it is swept
 * once; a daemon that was down catches up on its first sweep.
 *
 * Batches in short transactions until one comes back short. Returns how many
 * invalidations were appended, or null when another daemon holds the lock.
 */
export async function sweepExpiredAppPasswords(pool: Pool): Promise<number | null> {
  let total = 0;
  for (;;) {
    const n = await withTransaction(pool, async (tx) => {
      if (!(await tryExpirySweepLock(tx))) return null;
      const { count, lastId } = await sweepExpiredBatch(tx, BATCH);
      if (lastId !== null) await notifyInvalidation(tx, lastId);
      return count;
    });
    if (n === null) return total > 0 ? total : null;
    total += n;
    if (n < BATCH) return total;
  }
}
