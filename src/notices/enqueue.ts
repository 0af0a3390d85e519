import type { Actor, Context } from '../core/context.js';
import type { Queryable } from '../store/pool.js';
import { enqueuePasswordChanged } from '../store/sql/notices.js';
import { channelOf } from './channel.js';

export interface PasswordChange {
  mailboxId: string;
  address: string;
  /** The rotation's reason (`rotate`, `self_service`). */
  reason: string;
  actor: Actor;
  at: Date;
  credentialVersion: number;
}

/**
 * Queues the password-changed notices in the change's own transaction `tx`:
 * they commit with it, or roll back with it. Nothing is queued while notices
 * are off in the config (no backlog to burst out when they are turned on) or
 * for the domain. What is stored is what the notice says: never the password.
 */
export async function queuePasswordChangedNotice(ctx: Context, tx: Queryable, change: PasswordChange): Promise<number> {
  if (!ctx.config.notices.enabled) return 0;
  return enqueuePasswordChanged(tx, change.mailboxId, {
    address: change.address,
    at: change.at.toISOString(),
    channel: channelOf(change.reason, change.actor.actor),
    source_ip: change.actor.sourceIp,
    credential_version: change.credentialVersion,
  });
}
