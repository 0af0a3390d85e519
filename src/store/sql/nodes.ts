import type { Queryable } from '../pool.js';
import type { NodeRow } from './rows.js';

/**
 * A node that has never run starts at the head of the log (its Dovecot has
 * nothing cached from before); a node that has run keeps its cursor and catches up.
 */
export async function registerNode(db: Queryable, nodeId: string, hostname: string, doveadm: string): Promise<NodeRow> {
  const r = await db.query<NodeRow>({
    name: 'node-register',
    text: `INSERT INTO nodes (node_id, hostname, doveadm, applied_invalidation_id)
           VALUES ($1, $2, $3, (SELECT COALESCE(max(id), 0) FROM invalidations))
           ON CONFLICT (node_id) DO UPDATE SET hostname = $2, doveadm = $3, started_at = now(), heartbeat_at = now()
           RETURNING node_id, hostname, started_at, heartbeat_at, applied_invalidation_id::text, last_error, doveadm,
                     false AS stale, 0 AS failed_invalidations, NULL::text AS last_failed_invalidation_id`,
    values: [nodeId, hostname, doveadm],
  });
  return r.rows[0]!;
}

export async function heartbeat(db: Queryable, nodeId: string): Promise<void> {
  await db.query({ name: 'node-heartbeat', text: 'UPDATE nodes SET heartbeat_at = now() WHERE node_id = $1', values: [nodeId] });
}

/**
 * The node applied `appliedId`: its cursor moves, and the when and how many
 * kicked are recorded (invalidation_results: a rotation's per-node answer) in
 * the same statement, so the fan-out pays no extra round trip for it.
 */
export async function advanceCursor(db: Queryable, nodeId: string, appliedId: string, kicked: number | null = null): Promise<void> {
  await db.query({
    name: 'node-advance-v2',
    text: `WITH result AS (
             INSERT INTO invalidation_results (invalidation_id, node_id, kicked)
             SELECT $2, node_id, $3 FROM nodes WHERE node_id = $1
             ON CONFLICT (invalidation_id, node_id) DO UPDATE SET applied_at = clock_timestamp(), kicked = EXCLUDED.kicked)
           UPDATE nodes SET applied_invalidation_id = GREATEST(applied_invalidation_id, $2), last_error = NULL, heartbeat_at = now()
           WHERE node_id = $1`,
    values: [nodeId, appliedId, kicked],
  });
}

/** The node moves past an invalidation it gave up on; the error stays shown until the next success. */
export async function skipPastFailure(db: Queryable, nodeId: string, failedId: string, error: string): Promise<void> {
  await db.query({
    name: 'node-skip-failed',
    text: `UPDATE nodes SET applied_invalidation_id = GREATEST(applied_invalidation_id, $2), last_error = $3, heartbeat_at = now()
           WHERE node_id = $1`,
    values: [nodeId, failedId, error],
  });
}

export async function recordNodeError(db: Queryable, nodeId: string, error: string): Promise<void> {
  await db.query({ name: 'node-error', text: 'UPDATE nodes SET last_error = $2, heartbeat_at = now() WHERE node_id = $1', values: [nodeId, error] });
}

export async function markNodeStopped(db: Queryable, nodeId: string): Promise<void> {
  await db.query({
    name: 'node-stopped',
    text: "UPDATE nodes SET heartbeat_at = now() - interval '1 day' WHERE node_id = $1",
    values: [nodeId],
  });
}

export async function listNodes(db: Queryable, staleAfterMs: number): Promise<NodeRow[]> {
  const r = await db.query<NodeRow>({
    name: 'node-list-v2',
    text: `SELECT n.node_id, n.hostname, n.started_at, n.heartbeat_at, n.applied_invalidation_id::text, n.last_error, n.doveadm,
                  n.heartbeat_at < now() - ($1::int * interval '1 millisecond') AS stale,
                  COALESCE(f.failed, 0)::int AS failed_invalidations, f.last_failed::text AS last_failed_invalidation_id
           FROM nodes n
           LEFT JOIN (SELECT node_id, count(*) AS failed, max(invalidation_id) AS last_failed FROM invalidation_failures GROUP BY node_id) f
             ON f.node_id = n.node_id
           ORDER BY n.node_id`,
    values: [staleAfterMs],
  });
  return r.rows;
}

/**
 * Each node's distance from the head of the invalidation log, counted in rows
 * (ids have gaps where a writer rolled back), and the invalidations it gave up
 * on (for /metrics).
 */
export async function nodeLags(db: Queryable): Promise<Array<{ node_id: string; lag: number; failed: number }>> {
  const r = await db.query<{ node_id: string; lag: number; failed: number }>({
    name: 'node-lags-v2',
    text: `SELECT n.node_id,
                  (SELECT count(*) FROM invalidations i WHERE i.id > n.applied_invalidation_id)::int AS lag,
                  (SELECT count(*) FROM invalidation_failures f WHERE f.node_id = n.node_id)::int AS failed
           FROM nodes n ORDER BY n.node_id`,
  });
  return r.rows;
}

/** Two-key advisory locks: a key space of their own, apart from the single-key migration, commit-order and prune locks. */
const NODE_LOCK_CLASS = 7411;

/**
 * A session lock on this node_id, taken on the connection that LISTENs and
 * held while the daemon runs: a second daemon with the same node_id would
 * share the cursor and each would skip the rows the other applied. Keyed by
 * hashtext(node_id); two different ids colliding would only make the second
 * refuse to start, never let two share a cursor.
 */
export async function tryLockNodeId(db: Queryable, nodeId: string): Promise<boolean> {
  const r = await db.query<{ locked: boolean }>({
    name: 'node-lock',
    text: 'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
    values: [NODE_LOCK_CLASS, nodeId],
  });
  return r.rows[0]!.locked;
}

export async function unlockNodeId(db: Queryable, nodeId: string): Promise<void> {
  await db.query({ name: 'node-unlock', text: 'SELECT pg_advisory_unlock($1, hashtext($2))', values: [NODE_LOCK_CLASS, nodeId] });
}

/** A node retired for good (decommissioned mail host): it stops being listed as stale. */
export async function deleteNode(db: Queryable, nodeId: string): Promise<boolean> {
  const r = await db.query({ name: 'node-delete', text: 'DELETE FROM nodes WHERE node_id = $1', values: [nodeId] });
  return (r.rowCount ?? 0) > 0;
}
