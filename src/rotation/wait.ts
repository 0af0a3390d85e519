import type { Pool } from '../store/pool.js';
import { failuresOf, resultsOf } from '../store/sql/invalidations.js';
import { listNodes } from '../store/sql/nodes.js';

export interface NodeOutcome {
  node_id: string;
  applied: boolean;
  stale: boolean;
  error?: string;
  /** The node gave up on this invalidation after its retry budget: it will not be applied there. */
  failed?: true;
  /** Commit → this node's apply, in ms, from the node's own record (absent for a node that has not applied it, or joined after it). */
  applied_ms?: number;
  /** Sessions doveadm kicked on this node; absent when no kick was asked or the doveadm form does not report a count (2.3's). */
  sessions_kicked?: number;
}

const POLL_MS = 20;

/** The longest a caller may ask a rotation or kick to wait for its nodes (the admin listener's sockets must outlast it). */
export const MAX_WAIT_MS = 120_000;

/**
 * Waits until every live node's cursor has passed the invalidation, or the time
 * is up. A cursor past the row means applied, unless the node recorded that it
 * gave up on that row (its retry budget ran out): then it is not applied, with
 * the error, and no longer waited for. Stale nodes (no recent heartbeat) are
 * listed, never waited for: they catch up from their cursor when they return.
 * An applied node carries its own record of when (applied_ms) and how many
 * sessions it kicked. `onProgress` is called with the first answer and then
 * whenever a node's outcome changes (the console's live per-node list).
 */
export async function waitForNodes(
  pool: Pool,
  invalidationId: string,
  waitMs: number,
  staleAfterMs: number,
  onProgress?: (nodes: NodeOutcome[]) => void,
): Promise<NodeOutcome[]> {
  const deadline = Date.now() + waitMs;
  let reported: string | null = null;
  for (;;) {
    // Nodes first: a node's cursor moves in the statement that records its result or its
    // failure, so what reads after the cursor sees them. Read in parallel (three pooled
    // connections, three snapshots), a cursor could be seen past the row before its result:
    // "applied" without applied_ms, or a give-up answered as applied.
    const nodes = await listNodes(pool, staleAfterMs);
    const [failures, results] = await Promise.all([failuresOf(pool, invalidationId), resultsOf(pool, invalidationId)]);
    const failed = new Map(failures.map((f) => [f.node_id, f.error]));
    const done = new Map(results.map((r) => [r.node_id, r]));
    const outcomes = nodes.map((n): NodeOutcome => {
      const gaveUp = failed.get(n.node_id);
      if (gaveUp !== undefined) return { node_id: n.node_id, applied: false, stale: n.stale, error: gaveUp, failed: true };
      const applied = BigInt(n.applied_invalidation_id) >= BigInt(invalidationId);
      if (!applied) return { node_id: n.node_id, applied, stale: n.stale, ...(n.last_error ? { error: n.last_error } : {}) };
      const result = done.get(n.node_id);
      return {
        node_id: n.node_id,
        applied,
        stale: n.stale,
        ...(result ? { applied_ms: result.applied_ms } : {}),
        ...(result?.kicked != null ? { sessions_kicked: result.kicked } : {}),
      };
    });
    if (onProgress) {
      const seen = JSON.stringify(outcomes);
      // The rotation has committed whatever a listener does: its failure must not turn the answer into an error.
      if (seen !== reported) {
        try {
          onProgress(outcomes);
        } catch {
          /* the caller's listener: its own business */
        }
      }
      reported = seen;
    }
    const waiting = outcomes.some((o) => !o.applied && !o.stale && !o.failed);
    if (!waiting || Date.now() >= deadline) return outcomes;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}

/** Exit 0 / success only when every live node confirmed and no node gave up on it. */
export const allLiveApplied = (nodes: NodeOutcome[]) => nodes.every((n) => n.applied || (n.stale && !n.failed));
