import type { Actor, Context } from '../core/context.js';
import { notFound } from '../core/errors.js';
import { checkAppPasswordName } from '../accounts/app-passwords.js';
import { findMailbox } from '../accounts/mailboxes.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { deleteAppPassword, nodeAppPasswordKicks } from '../store/sql/app-passwords.js';
import { appendInvalidation } from '../store/sql/invalidations.js';
import { allLiveApplied, waitForNodes, type NodeOutcome } from './wait.js';

export type KickedBy = 'app_password' | 'mailbox';
/** Per node; 'none': the node has no Dovecot (doveadm = none) and kicks nothing. */
export type NodeKick = KickedBy | 'none';

export interface RevokedAppPassword {
  address: string;
  name: string;
  invalidation_id: string;
  complete: boolean;
  /**
   * Whose sessions were ended: only the ones that logged in with this app
   * password (every live node tells them apart: Dovecot 2.4, kick_by_field),
   * else all of the mailbox's sessions on at least one node.
   */
  kicked: KickedBy;
  nodes: Array<NodeOutcome & { kicked: NodeKick }>;
}

/**
 * Revocation is a rotation: the row goes and an invalidation naming it is
 * appended in one transaction, so from the commit on every verify refuses it
 * (each reads the database), and every node flushes Dovecot's auth cache for
 * the user and kicks that device's sessions (or, where Dovecot cannot tell
 * them apart, the mailbox's), confirmed per node like a rotation.
 */
export async function revokeAppPassword(ctx: Context, actor: Actor, address: string, nameInput: string, waitMs: number): Promise<RevokedAppPassword> {
  const name = checkAppPasswordName(nameInput);
  const mailbox = await findMailbox(ctx, address);
  const invalidationId = await withTransaction(ctx.pool, async (tx) => {
    const gone = await deleteAppPassword(tx, mailbox.id, name);
    if (!gone) throw notFound('app_password_not_found', `${mailbox.address} has no app password named ${JSON.stringify(name)}`);
    await appendAudit(tx, { ...actor, action: 'app_password.revoke', target: mailbox.address, details: { name } });
    return appendInvalidation(tx, mailbox.address, 'app_password_revoked', true, gone.id);
  });
  const outcomes = await waitForNodes(ctx.pool, invalidationId, waitMs, ctx.config.rotation.stale_after_ms);
  const modes = await nodeAppPasswordKicks(ctx.pool);
  const nodes = outcomes.map((n) => ({ ...n, kicked: (modes.get(n.node_id) ?? 'mailbox') as NodeKick }));
  const kicking = nodes.filter((n) => !n.stale && n.kicked !== 'none');
  const kicked: KickedBy = kicking.length > 0 && kicking.every((n) => n.kicked === 'app_password') ? 'app_password' : 'mailbox';
  return { address: mailbox.address, name, invalidation_id: invalidationId, complete: allLiveApplied(outcomes), kicked, nodes };
}
