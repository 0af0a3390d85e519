import type { Actor, Context } from '../core/context.js';
import type { Metrics } from '../observability/metrics.js';
import { findMailbox } from '../accounts/mailboxes.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { appendInvalidation } from '../store/sql/invalidations.js';
import { rotatePassword, type RotateInput, type RotateResult } from './rotate.js';
import { allLiveApplied, waitForNodes, type NodeOutcome } from './wait.js';

export interface ConfirmedRotation extends RotateResult {
  complete: boolean;
  nodes: NodeOutcome[];
}

/** Rotate, then wait up to `waitMs` for every live node to confirm the flush and kick. */
export async function rotateAndWait(
  ctx: Context,
  metrics: Metrics | null,
  actor: Actor,
  input: RotateInput & { waitMs: number },
  onProgress?: (nodes: NodeOutcome[]) => void,
): Promise<ConfirmedRotation> {
  const result = await rotatePassword(ctx, actor, input);
  metrics?.rotations.inc({ reason: input.reason });
  ctx.log.info({ address: result.address, actor: actor.actor, reason: input.reason, credential_version: result.credentialVersion, invalidation_id: result.invalidationId }, 'password changed');
  const nodes = await waitForNodes(ctx.pool, result.invalidationId, input.waitMs, ctx.config.rotation.stale_after_ms, onProgress);
  return { ...result, complete: allLiveApplied(nodes), nodes };
}

/** Kick without rotating: an invalidation with kick, fanned out like a rotation. */
export async function kickMailbox(ctx: Context, actor: Actor, address: string, waitMs: number, onProgress?: (nodes: NodeOutcome[]) => void) {
  const row = await findMailbox(ctx, address);
  const invalidationId = await withTransaction(ctx.pool, async (tx) => {
    const id = await appendInvalidation(tx, row.address, 'kick', true);
    await appendAudit(tx, { ...actor, action: 'mailbox.kick', target: row.address, details: { invalidation_id: id } });
    return id;
  });
  const nodes = await waitForNodes(ctx.pool, invalidationId, waitMs, ctx.config.rotation.stale_after_ms, onProgress);
  return { address: row.address, invalidation_id: invalidationId, complete: allLiveApplied(nodes), nodes };
}
