import type { NodeOutcome } from '../../rotation/wait.js';
import type { Catalog } from './i18n/index.js';

export type NodeState = 'applied' | 'failed' | 'stale' | 'waiting';

export interface NodeLine {
  node_id: string;
  state: NodeState;
  applied_ms: number | null;
  kicked: number | null;
  error: string | null;
  /** The line as shown: "mail1 ✓ 18 ms", or the node's error and what it means. */
  text: string;
}

/**
 * One node's line. At the end (`final`) a live node that has not confirmed is
 * a failure: the old password may still work there until it catches up.
 */
export function nodeLine(t: Catalog, n: NodeOutcome, final: boolean, waitedMs: number): NodeLine {
  let state: NodeState;
  if (n.applied) state = 'applied';
  else if (n.failed) state = 'failed';
  else if (n.stale) state = 'stale';
  else state = final ? 'failed' : 'waiting';
  const error = n.error ?? (state === 'failed' ? `no confirmation within ${(waitedMs / 1000).toFixed(1)} s` : null);
  const text =
    state === 'applied' ? t.nodeApplied(n.node_id, n.applied_ms ?? null)
    : state === 'failed' ? t.nodeFailed(n.node_id, error ?? '')
    : state === 'stale' ? t.nodeStale(n.node_id)
    : t.nodeWaiting(n.node_id);
  return { node_id: n.node_id, state, applied_ms: n.applied_ms ?? null, kicked: n.sessions_kicked ?? null, error, text };
}

export interface Summary {
  applied: number;
  total: number;
  seconds: number;
  kicked: number;
  complete: boolean;
  text: string;
  sessions_text: string;
}

export function summaryOf(t: Catalog, lines: NodeLine[], seconds: number, complete: boolean): Summary {
  const applied = lines.filter((l) => l.state === 'applied').length;
  const kicked = lines.reduce((sum, l) => sum + (l.kicked ?? 0), 0);
  return { applied, total: lines.length, seconds, kicked, complete, text: t.inForce(applied, lines.length, seconds * 1000), sessions_text: t.sessionsClosed(kicked) };
}
