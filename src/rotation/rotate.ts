import type { Actor, Context } from '../core/context.js';
import { conflict, notFound } from '../core/errors.js';
import { normalizeAddress } from '../core/address.js';
import { expiryFrom, policyFor, preparePassword, type PasswordSource, type PreparedPassword } from '../accounts/password.js';
import type { PolicySettings } from '../policy/settings.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { deleteMailboxConsoleSessions } from '../store/sql/console-sessions.js';
import { getDomain, lockDomainShared } from '../store/sql/domains.js';
import { appendHistory, pruneHistory, recentHashes } from '../store/sql/history.js';
import { appendInvalidation } from '../store/sql/invalidations.js';
import { getMailbox, lockMailbox, setPassword } from '../store/sql/mailboxes.js';
import type { MailboxRow } from '../store/sql/rows.js';

export interface RotateInput {
  address: string;
  password: PasswordSource;
  kick: boolean;
  /** `rotate` (admin), `self_service` (mailbox owner) — recorded in the log and audit. */
  reason: 'rotate' | 'self_service';
  /**
   * Self-service: the credential version the current password was verified
   * against. If the mailbox was rotated or disabled since, the
   * change is refused (409 credential_changed) instead of overwriting it.
   * With the row id, so a mailbox deleted and re-created in between (version 1
   * again) does not pass for the one that was verified.
   */
  expected?: { mailboxId: string; version: number };
  /**
   * Every change ends the mailbox's console sessions in its transaction; this one
   * (a console session id: the owner's own, changing the password there) survives.
   */
  keepConsoleSession?: string;
}

export interface RotateResult {
  address: string;
  credentialVersion: number;
  invalidationId: string;
  generated: string | null;
}

/** Rounds before giving up on a mailbox whose password keeps changing under us. */
const MAX_ATTEMPTS = 10;

/**
 * DESIGN §5, with the expensive part outside the lock: read the row → policy
 * (history included, argon2 per entry) → hash; then one short transaction: lock
 * the row → still the version we checked? → update with a new credential
 * version → history → audit → invalidation + NOTIFY. If another change
 * committed in between, start over against it, so the history check always
 * sees the previous change. Holding the row lock (and a pooled connection)
 * across argon2 and zxcvbn made concurrent rotations of one mailbox queue for
 * seconds, hit the statement timeout (503) and starve the login path's pool.
 */
export async function rotatePassword(ctx: Context, actor: Actor, input: RotateInput): Promise<RotateResult> {
  const { address, domain } = normalizeAddress(input.address);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const base = await readCurrent(ctx, address, domain);
    checkExpected(input, base.row, base.domainEnabled);
    const prepared = await preparePassword(ctx, input.password, { address, displayName: base.row.display_name }, base.policy, base.history);
    const done = await commitIfUnchanged(ctx, actor, input, base, prepared);
    if (done) return done;
  }
  throw conflict('rotation_contended', `mailbox ${address} kept changing during the rotation; try again`);
}

/** A verified current password is only good for the version (and enabled state, its domain's too) it was verified against. */
function checkExpected(input: RotateInput, row: MailboxRow, domainEnabled: boolean): void {
  const expected = input.expected;
  if (expected === undefined) return;
  if (row.id !== expected.mailboxId || row.credential_version !== expected.version || !row.enabled || !domainEnabled) {
    throw conflict('credential_changed', `the password or state of ${row.address} changed after the current password was checked; nothing was changed`);
  }
}

interface Base {
  row: MailboxRow;
  domainEnabled: boolean;
  policy: PolicySettings;
  history: string[];
}

/** The state the policy is checked against; no lock, the commit re-checks it. */
async function readCurrent(ctx: Context, address: string, domain: string): Promise<Base> {
  const row = await getMailbox(ctx.pool, address);
  if (!row) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
  const dom = await getDomain(ctx.pool, domain);
  const policy = policyFor(ctx, dom?.policy ?? null);
  const history = policy.historyCount > 0 ? await recentHashes(ctx.pool, row.id, policy.historyCount) : [];
  return { row, domainEnabled: dom?.enabled ?? false, policy, history };
}

/** Null when the password or the personal details changed since `base` was read: the caller starts over. */
async function commitIfUnchanged(ctx: Context, actor: Actor, input: RotateInput, base: Base, prepared: PreparedPassword): Promise<RotateResult | null> {
  const address = base.row.address;
  return withTransaction(ctx.pool, async (tx) => {
    const row = await lockMailbox(tx, address);
    if (!row) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
    // Self-service: a domain disabled since the check wins (its lock waits for a disable in progress).
    if (input.expected !== undefined) checkExpected(input, row, (await lockDomainShared(tx, row.domain))?.enabled ?? false);
    if (row.id !== base.row.id || row.credential_version !== base.row.credential_version || row.display_name !== base.row.display_name) return null;
    const updated = await setPassword(tx, row.id, prepared.hash, expiryFrom(base.policy), false);
    await appendHistory(tx, row.id, prepared.hash);
    await pruneHistory(tx, row.id, Math.max(base.policy.historyCount, 1));
    // A console signed in with the old password must sign in again, except the one the change was made in.
    const sessionsEnded = await deleteMailboxConsoleSessions(tx, row.id, input.keepConsoleSession ?? null);
    const invalidationId = await appendInvalidation(tx, address, input.reason, input.kick);
    await appendAudit(tx, {
      ...actor,
      action: input.reason === 'self_service' ? 'password.self_service' : 'password.rotate',
      target: address,
      details: { credential_version: updated.credential_version, generated: prepared.generated !== null, kick: input.kick, invalidation_id: invalidationId, console_sessions_ended: sessionsEnded },
    });
    return { address, credentialVersion: updated.credential_version, invalidationId, generated: prepared.generated };
  });
}
