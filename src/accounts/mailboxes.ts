import { isDeepStrictEqual } from 'node:util';
import type { Actor, Context } from '../core/context.js';
import { conflict, notFound } from '../core/errors.js';
import { noticeLanguage } from '../notices/language.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { deleteMailboxConsoleSessions } from '../store/sql/console-sessions.js';
import { getDomain, lockDomainShared } from '../store/sql/domains.js';
import { appendHistory } from '../store/sql/history.js';
import { appendInvalidation } from '../store/sql/invalidations.js';
import * as sql from '../store/sql/mailboxes.js';
import type { MailboxRow } from '../store/sql/rows.js';
import { keysetPage } from '../store/sql/page.js';
import { newMailboxAddress, normalizeAddress, normalizeDomain } from '../core/address.js';
import { expiryFrom, policyFor, preparePassword, type PasswordSource } from './password.js';

/** What the API and CLI show of a mailbox: never the hash. */
export interface MailboxView {
  address: string;
  domain: string;
  display_name: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  must_change: boolean;
  credential_version: number;
  password_changed_at: string;
  password_expires_at: string | null;
  quota_bytes: number | null;
  home: string | null;
  uid: string | null;
  gid: string | null;
  mail: string | null;
  created_at: string;
  updated_at: string;
  /** Where password-changed notices also go. */
  recovery_address: string | null;
  /** Language of its notices; null: the domain's. */
  notice_language: string | null;
}

export function toView(row: MailboxRow): MailboxView {
  return {
    address: row.address,
    domain: row.domain,
    display_name: row.display_name,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    must_change: row.must_change,
    credential_version: row.credential_version,
    password_changed_at: row.password_changed_at.toISOString(),
    password_expires_at: row.password_expires_at?.toISOString() ?? null,
    quota_bytes: row.quota_bytes === null ? null : Number(row.quota_bytes),
    home: row.home,
    uid: row.uid,
    gid: row.gid,
    mail: row.mail_location,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    recovery_address: row.recovery_address,
    notice_language: row.notice_language,
  };
}

/** Any valid address (it need not be hosted here), stored in its one spelling; '' or null removes it. */
export function recoveryAddress(input: string | null): string | null {
  if (input === null || input.trim() === '') return null;
  return normalizeAddress(input.trim()).address;
}

export interface NewMailboxInput {
  address: string;
  displayName: string | null;
  password: PasswordSource;
  quotaBytes?: number | null;
  recoveryAddress?: string | null;
  noticeLanguage?: string | null;
}

/** Rounds before giving up on a domain whose policy keeps changing under us. */
const MAX_ATTEMPTS = 3;

/**
 * The expensive part first, holding nothing: the policy (zxcvbn, on its thread)
 * and argon2. Then one short transaction: the domain locked against removal and
 * policy changes → still the policy we checked? → insert → history → audit.
 * Holding a transaction and a pooled connection across the hash starved logins
 * of connections, as it did in rotation (see rotatePassword).
 */
export async function createMailbox(ctx: Context, actor: Actor, input: NewMailboxInput): Promise<{ mailbox: MailboxView; generated: string | null }> {
  const { address, domain } = newMailboxAddress(input.address);
  const displayName = input.displayName?.trim() || null;
  const domainMissing = () => notFound('domain_not_found', `domain ${domain} does not exist; add it first (mailpassd domain add ${domain})`);
  const exists = () => conflict('mailbox_exists', `mailbox ${address} already exists`);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const dom = await getDomain(ctx.pool, domain);
    if (!dom) throw domainMissing();
    // Answered before hashing; the insert re-checks it.
    if (await sql.getMailbox(ctx.pool, address)) throw exists();
    const policy = policyFor(ctx, dom.policy);
    const prepared = await preparePassword(ctx, input.password, { address, displayName }, policy, []);
    const created = await withTransaction(ctx.pool, async (tx) => {
      const locked = await lockDomainShared(tx, domain);
      if (!locked) throw domainMissing();
      if (!isDeepStrictEqual(locked.policy, dom.policy)) return null;
      const row = await sql.insertMailbox(tx, {
        address,
        domain,
        displayName,
        passwordHash: prepared.hash,
        expiresAt: expiryFrom(policy),
        quotaBytes: input.quotaBytes ?? null,
        recoveryAddress: recoveryAddress(input.recoveryAddress ?? null),
        noticeLanguage: noticeLanguage(input.noticeLanguage ?? null),
      });
      if (!row) throw exists();
      await appendHistory(tx, row.id, prepared.hash);
      await appendAudit(tx, { ...actor, action: 'mailbox.add', target: address, details: { generated: prepared.generated !== null } });
      return { mailbox: toView(row), generated: prepared.generated };
    });
    if (created) return created;
  }
  throw conflict('domain_policy_contended', `the policy of domain ${domain} kept changing while ${address} was created; try again`);
}

export async function findMailbox(ctx: Context, input: string): Promise<MailboxRow> {
  const { address } = normalizeAddress(input);
  const row = await sql.getMailbox(ctx.pool, address);
  if (!row) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
  return row;
}

export type { MailboxCursor } from '../store/sql/mailboxes.js';

/**
 * One page of every mailbox, by domain then address (what `mailbox list`
 * prints without --domain); `next`: the `after` of the next page, null on the
 * last. A page at a time, so a million mailboxes never sit in memory at once.
 */
export async function listAllMailboxPage(ctx: Context, opts: { after?: sql.MailboxCursor; limit: number }): Promise<{ items: MailboxView[]; next: sql.MailboxCursor | null }> {
  const { rows, next } = await sql.listAllMailboxPage(ctx.pool, opts.after ?? null, Math.max(1, Math.floor(opts.limit)));
  return { items: rows.map(toView), next };
}

/** One page of a domain's mailboxes, by address; `q`: case-insensitive substring of the address or display name; `next`: the `after` of the next page. */
export async function listMailboxPage(
  ctx: Context,
  domainInput: string,
  opts: { q?: string; after?: string; limit: number },
): Promise<{ items: MailboxView[]; next: string | null; total: number }> {
  const domain = normalizeDomain(domainInput);
  if (!(await getDomain(ctx.pool, domain))) throw notFound('domain_not_found', `domain ${domain} does not exist`);
  const q = opts.q?.trim() ? opts.q.trim() : null;
  const limit = Math.max(1, Math.floor(opts.limit));
  const [rows, total] = await Promise.all([
    sql.listMailboxPage(ctx.pool, domain, q, opts.after ?? null, limit),
    sql.countMailboxPage(ctx.pool, domain, q),
  ]);
  const page = keysetPage(rows, limit, (last) => last.address);
  return { items: page.rows.map(toView), next: page.next, total };
}

export interface MailboxChanges {
  enabled?: boolean;
  disabledReason?: string | null;
  displayName?: string | null;
  quotaBytes?: number | null;
  mustChange?: boolean;
  recoveryAddress?: string | null;
  noticeLanguage?: string | null;
}

/**
 * Enabling, disabling and other edits. Disabling also appends an invalidation so
 * every node flushes Dovecot's cache and kicks the sessions. Setting must_change
 * appends a flush without a kick: a login Dovecot has cached would otherwise
 * keep being accepted, while open sessions may run on until their next login.
 */
export async function updateMailbox(ctx: Context, actor: Actor, input: string, changes: MailboxChanges): Promise<MailboxView> {
  const { address } = normalizeAddress(input);
  return withTransaction(ctx.pool, async (tx) => {
    const current = await sql.lockMailbox(tx, address);
    if (!current) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
    const patch: sql.MailboxPatch = { ...changes };
    if (changes.enabled === true) patch.disabledReason = null;
    if (changes.displayName !== undefined) patch.displayName = changes.displayName?.trim() || null;
    if (changes.recoveryAddress !== undefined) patch.recoveryAddress = recoveryAddress(changes.recoveryAddress);
    if (changes.noticeLanguage !== undefined) patch.noticeLanguage = noticeLanguage(changes.noticeLanguage);
    const row = await sql.patchMailbox(tx, current.id, patch);
    const action = changes.enabled === false ? 'mailbox.disable' : changes.enabled === true ? 'mailbox.enable' : 'mailbox.update';
    await appendAudit(tx, { ...actor, action, target: address, details: { fields: Object.keys(changes) } });
    if (changes.enabled === false) await deleteMailboxConsoleSessions(tx, current.id, null);
    // One invalidation at most, and last (it takes the log's commit-order lock).
    if (changes.enabled === false && current.enabled) await appendInvalidation(tx, address, 'disabled', true);
    else if (changes.mustChange === true && !current.must_change) await appendInvalidation(tx, address, 'must_change', false);
    return toView(row);
  });
}

/** Its console sessions and admin roles go with it (foreign-key cascade). */
export async function deleteMailbox(ctx: Context, actor: Actor, input: string): Promise<void> {
  const { address } = normalizeAddress(input);
  await withTransaction(ctx.pool, async (tx) => {
    const current = await sql.lockMailbox(tx, address);
    if (!current) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
    await sql.deleteMailbox(tx, current.id);
    await appendAudit(tx, { ...actor, action: 'mailbox.delete', target: address });
    await appendInvalidation(tx, address, 'deleted', true);
  });
}
