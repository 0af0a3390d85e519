import type { Pool } from '../store/pool.js';
import { listNodes } from '../store/sql/nodes.js';

export interface NodeOutcome {
  node_id: string;
  applied: boolean;
  stale: boolean;
  error?: string;
}

const POLL_MS = 20;

/**
 * Waits until every live node's cursor has passed the invalidation, or the time
 * is up. Stale nodes (no recent heartbeat) are listed, never waited for: they
 * catch up from their cursor when they return.
 */
export async function waitForNodes(pool: Pool, invalidationId: string, waitMs: number, staleAfterMs: number): Promise<NodeOutcome[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const nodes = await listNodes(pool, staleAfterMs);
    const outcomes = nodes.map((n): NodeOutcome => {
      const applied = BigInt(n.applied_invalidation_id) >= BigInt(invalidationId);
      return { node_id: n.node_id, applied, stale: n.stale, ...(!applied && n.last_error ? { error: n.last_error } : {}) };
    });
    const waiting = outcomes.some((o) => !o.applied && !o.stale);
    if (!waiting || Date.now() >= deadline) return outcomes;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}

/** Exit 0 / success only when every live node confirmed. */
export const allLiveApplied = (nodes: NodeOutcome[]) => nodes.every((n) => n.applied || n.stale);
