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
           RETURNING *, false AS stale`,
    values: [nodeId, hostname, doveadm],
  });
  return r.rows[0]!;
}

export async function heartbeat(db: Queryable, nodeId: string): Promise<void> {
  await db.query({ name: 'node-heartbeat', text: 'UPDATE nodes SET heartbeat_at = now() WHERE node_id = $1', values: [nodeId] });
}

export async function advanceCursor(db: Queryable, nodeId: string, appliedId: string): Promise<void> {
  await db.query({
    name: 'node-advance',
    text: `UPDATE nodes SET applied_invalidation_id = GREATEST(applied_invalidation_id, $2), last_error = NULL, heartbeat_at = now()
           WHERE node_id = $1`,
    values: [nodeId, appliedId],
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
    name: 'node-list',
    text: `SELECT *, heartbeat_at < now() - ($1::int * interval '1 millisecond') AS stale FROM nodes ORDER BY node_id`,
    values: [staleAfterMs],
  });
  return r.rows;
}

/** Each node's distance from the head of the invalidation log (for /metrics). */
export async function nodeLags(db: Queryable): Promise<Array<{ node_id: string; lag: number }>> {
  const r = await db.query<{ node_id: string; lag: number }>({
    name: 'node-lags',
    text: `SELECT node_id, ((SELECT COALESCE(max(id), 0) FROM invalidations) - applied_invalidation_id)::int AS lag
           FROM nodes ORDER BY node_id`,
  });
  return r.rows;
}

/** A node retired for good (decommissioned mail host): it stops being listed as stale. */
export async function deleteNode(db: Queryable, nodeId: string): Promise<boolean> {
  const r = await db.query({ name: 'node-delete', text: 'DELETE FROM nodes WHERE node_id = $1', values: [nodeId] });
  return (r.rowCount ?? 0) > 0;
}
