import type { Actor, Context } from '../context.js';
import { notFound } from '../errors.js';
import { normalizeAddress } from '../accounts/address.js';
import { expiryFrom, policyFor, preparePassword, type PasswordSource } from '../accounts/password.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { getDomain } from '../store/sql/domains.js';
import { appendHistory, pruneHistory, recentHashes } from '../store/sql/history.js';
import { appendInvalidation } from '../store/sql/invalidations.js';
import { lockMailbox, setPassword } from '../store/sql/mailboxes.js';

export interface RotateInput {
  address: string;
  password: PasswordSource;
  kick: boolean;
  /** `rotate` (admin), `self_service` (mailbox owner) — recorded in the log and audit. */
  reason: 'rotate' | 'self_service';
}

export interface RotateResult {
  address: string;
  credentialVersion: number;
  invalidationId: string;
  generated: string | null;
}

/**
 * One transaction (DESIGN §5): lock the row → policy (history included) → hash →
 * update with a new credential version → history → audit → invalidation + NOTIFY.
 * The row lock serialises concurrent rotations of one mailbox, so the history
 * check always sees the previous change. Any failure rolls everything back.
 */
export async function rotatePassword(ctx: Context, actor: Actor, input: RotateInput): Promise<RotateResult> {
  const { address, domain } = normalizeAddress(input.address);
  return withTransaction(ctx.pool, async (tx) => {
    const row = await lockMailbox(tx, address);
    if (!row) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
    const policy = policyFor(ctx, (await getDomain(tx, domain))?.policy ?? null);
    const history = policy.historyCount > 0 ? await recentHashes(tx, row.id, policy.historyCount) : [];
    const prepared = await preparePassword(ctx, input.password, { address, displayName: row.display_name }, policy, history);
    const updated = await setPassword(tx, row.id, prepared.hash, expiryFrom(policy), false);
    await appendHistory(tx, row.id, prepared.hash);
    await pruneHistory(tx, row.id, Math.max(policy.historyCount, 1));
    const invalidationId = await appendInvalidation(tx, address, input.reason, input.kick);
    await appendAudit(tx, {
      ...actor,
      action: input.reason === 'self_service' ? 'password.self_service' : 'password.rotate',
      target: address,
      details: { credential_version: updated.credential_version, generated: prepared.generated !== null, kick: input.kick, invalidation_id: invalidationId },
    });
    return { address, credentialVersion: updated.credential_version, invalidationId, generated: prepared.generated };
  });
}
