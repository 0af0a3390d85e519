import type { Queryable } from '../pool.js';

/**
 * Retention: old rows of the logs deleted in batches (a LIMIT per statement, so
 * one batch never holds many row locks or a long transaction), each batch in a
 * transaction that first takes the pruners' advisory lock, so one daemon prunes
 * at a time (src/store/retention.ts).
 */

/** Arbitrary constant, the one the invalidation pruner always took: one pruner at a time, across all nodes. */
const RETENTION_LOCK = 7411_000003;

/** In a transaction: false when another daemon is pruning right now. */
export async function tryRetentionLock(db: Queryable): Promise<boolean> {
  const r = await db.query<{ locked: boolean }>({ name: 'retention-lock', text: 'SELECT pg_try_advisory_xact_lock($1) AS locked', values: [RETENTION_LOCK] });
  return r.rows[0]!.locked;
}

/**
 * One batch of audit rows older than `keepMs`, oldest first. Must run in a
 * transaction: the retention is declared transaction-locally, and the log's
 * trigger (migration 0007) lets a DELETE through only for a row older than it
 * (and never one younger than a day). Returns the number deleted.
 *
 * `id = ANY (ARRAY(…))`, not `id IN (…)`: with the LIMIT a parameter, the
 * generic plan of the IN form joins against a sequential scan of the whole log.
 */
export async function pruneAuditBatch(db: Queryable, keepMs: number, limit: number): Promise<number> {
  await db.query({
    name: 'audit-prune-declare',
    text: "SELECT set_config('mailpassd.audit_retention', ($1::bigint * interval '1 millisecond')::text, true)",
    values: [keepMs],
  });
  const r = await db.query<{ deleted: number }>({
    name: 'audit-prune-batch',
    text: `WITH gone AS (
             DELETE FROM audit_log WHERE id = ANY (ARRAY(
               SELECT id FROM audit_log WHERE at < now() - ($1::bigint * interval '1 millisecond') ORDER BY at LIMIT $2))
             RETURNING 1)
           SELECT count(*)::int AS deleted FROM gone`,
    values: [keepMs, limit],
  });
  return r.rows[0]!.deleted;
}

/**
 * One batch of invalidation log entries every registered node has passed (live
 * or stale: a stale node catches up from its cursor when it returns, so its
 * rows are kept; a node forgotten with `node remove` no longer counts) and older
 * than `keepMs`, which keeps an audit trail. Lowest ids first, by the primary key.
 */
export async function pruneInvalidationsBatch(db: Queryable, keepMs: number, limit: number): Promise<number> {
  const r = await db.query<{ deleted: number }>({
    name: 'invalidation-prune-batch',
    text: `WITH gone AS (
             DELETE FROM invalidations WHERE id = ANY (ARRAY(
               SELECT id FROM invalidations
               WHERE id <= (SELECT min(applied_invalidation_id) FROM nodes)
                 AND created_at < now() - ($1::bigint * interval '1 millisecond')
               ORDER BY id LIMIT $2))
             RETURNING 1)
           SELECT count(*)::int AS deleted FROM gone`,
    values: [keepMs, limit],
  });
  return r.rows[0]!.deleted;
}
