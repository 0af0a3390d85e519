import type { Config } from '../config/index.js';
import { withTransaction, type Client, type Pool } from './pool.js';
import { pruneAuditBatch, pruneInvalidationsBatch, tryRetentionLock } from './sql/retention.js';

export interface Pruned {
  audit: number;
  invalidations: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * One retention pass: audit log entries older than `retention.audit_days` (0:
 * kept for ever) and invalidation log entries every node has passed, older than
 * `rotation.retention_hours`. Password history needs no pass: it is bounded by
 * count, pruned on each rotation (rotation/rotate.ts).
 *
 * Batches of `retention.batch_rows`, each its own short transaction, until one
 * comes back short, so a backlog of millions never holds locks for long nor
 * blocks the writers. Null when another daemon holds the pruners' lock: it is
 * doing this pass.
 */
export async function pruneOnce(pool: Pool, config: Config): Promise<Pruned | null> {
  const limit = config.retention.batch_rows;
  const pruned: Pruned = { audit: 0, invalidations: 0 };
  const drain = async (key: keyof Pruned, batch: (tx: Client) => Promise<number>): Promise<boolean> => {
    for (;;) {
      const n = await withTransaction(pool, async (tx) => ((await tryRetentionLock(tx)) ? batch(tx) : null));
      if (n === null) return false;
      pruned[key] += n;
      if (n < limit) return true;
    }
  };
  if (config.retention.audit_days > 0 && !(await drain('audit', (tx) => pruneAuditBatch(tx, config.retention.audit_days * DAY_MS, limit)))) return null;
  if (!(await drain('invalidations', (tx) => pruneInvalidationsBatch(tx, config.rotation.retention_hours * HOUR_MS, limit)))) return null;
  return pruned;
}
