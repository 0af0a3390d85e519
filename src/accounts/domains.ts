import type { Actor, Context } from '../core/context.js';
import { conflict, notFound, refused } from '../core/errors.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { deleteDomainConsoleSessions } from '../store/sql/console-sessions.js';
import { appendDomainInvalidations } from '../store/sql/invalidations.js';
import * as sql from '../store/sql/domains.js';
import type { DomainRow } from '../store/sql/rows.js';
import { configuredPolicy, effectivePolicy, parsePolicyOverrides, PolicyOverrideError, type PolicyOverrides, type PolicySettings } from '../policy/settings.js';
import { normalizeDomain } from '../core/address.js';
import { noticeLanguage } from '../notices/language.js';

export async function addDomain(ctx: Context, actor: Actor, input: string): Promise<DomainRow> {
  const name = normalizeDomain(input);
  return withTransaction(ctx.pool, async (tx) => {
    const row = await sql.insertDomain(tx, name);
    if (!row) throw conflict('domain_exists', `domain ${name} already exists`);
    await appendAudit(tx, { ...actor, action: 'domain.add', target: name });
    return { ...row, mailbox_count: 0 };
  });
}

export interface DomainListing {
  /** null: every domain; else only these (a domain admin's). */
  only?: string[] | null;
  /** A case-insensitive substring of the name. */
  q?: string;
  /** The `next` of the page before; absent: the first page. */
  after?: string;
  limit: number;
}

/**
 * One page of domains by name, each with its mailbox count (counted for the
 * page's domains only); `next`: the `after` of the next page, null on the last.
 */
export async function listDomainPage(ctx: Context, opts: DomainListing): Promise<{ items: sql.DomainWithCount[]; next: string | null }> {
  const q = opts.q?.trim() ? opts.q.trim() : null;
  const { rows, next } = await sql.listDomainPage(ctx.pool, opts.only ?? null, q, opts.after ?? null, Math.max(1, Math.floor(opts.limit)));
  return { items: rows, next };
}

export interface DomainSummary {
  name: string;
  enabled: boolean;
  disabled_reason: string | null;
  mailbox_count: number;
  /** The effective policy: the global one with this domain's overrides applied. */
  policy: PolicySettings;
  overrides: PolicyOverrides;
}

/** A page of listDomainPage with each domain's effective policy (the console's domains table). */
export async function listDomainSummaryPage(ctx: Context, opts: DomainListing): Promise<{ items: DomainSummary[]; next: string | null }> {
  const global = configuredPolicy(ctx.config.policy);
  const page = await listDomainPage(ctx, opts);
  const items = page.items.map((row) => {
    const overrides = parsePolicyOverrides(row.policy);
    return {
      name: row.name,
      enabled: row.enabled,
      disabled_reason: row.disabled_reason,
      mailbox_count: row.mailbox_count,
      policy: effectivePolicy(global, overrides),
      overrides,
    };
  });
  return { items, next: page.next };
}

export async function getDomain(ctx: Context, input: string): Promise<DomainRow> {
  const name = normalizeDomain(input);
  const row = await sql.getDomain(ctx.pool, name);
  if (!row) throw notFound('domain_not_found', `domain ${name} does not exist`);
  return row;
}

/** Refused while mailboxes remain: deleting credentials is an explicit, per-mailbox act. */
export async function removeDomain(ctx: Context, actor: Actor, input: string): Promise<void> {
  const name = normalizeDomain(input);
  await withTransaction(ctx.pool, async (tx) => {
    const row = await tx.query('SELECT name FROM domains WHERE name = $1 FOR UPDATE', [name]);
    if (row.rowCount === 0) throw notFound('domain_not_found', `domain ${name} does not exist`);
    const count = await sql.countMailboxesInDomain(tx, name);
    if (count > 0) throw conflict('domain_not_empty', `domain ${name} still has ${count} mailbox(es); delete them first`);
    await sql.deleteDomain(tx, name);
    await appendAudit(tx, { ...actor, action: 'domain.remove', target: name });
  });
}

export async function setDomainPolicy(ctx: Context, actor: Actor, input: string, policy: unknown): Promise<DomainRow> {
  const name = normalizeDomain(input);
  let overrides;
  try {
    overrides = parsePolicyOverrides(policy);
  } catch (err) {
    if (err instanceof PolicyOverrideError) throw refused(err.code, err.message);
    throw err;
  }
  return withTransaction(ctx.pool, async (tx) => {
    const row = await sql.setDomainPolicy(tx, name, overrides as Record<string, unknown>);
    if (!row) throw notFound('domain_not_found', `domain ${name} does not exist`);
    await appendAudit(tx, { ...actor, action: 'domain.policy', target: name, details: { policy: overrides } });
    return row;
  });
}

export interface DomainState {
  domain: DomainRow;
  /** Invalidations appended (one per mailbox, flush + kick) when a domain went from enabled to disabled; 0 otherwise. */
  invalidated: number;
  /** The last of them, for a caller that waits for the nodes; null when none. */
  invalidationId: string | null;
}

/**
 * A disabled domain refuses the logins of every mailbox in it, as if each were
 * disabled (user_disabled, revealed only to the right password); the mailboxes'
 * own state is left alone, so enabling the domain again restores each as it was.
 * Disabling appends, in the same transaction, a flush + kick for every mailbox,
 * so open sessions end on every node and Dovecot's cache stops accepting them.
 * Disabling again only changes the reason.
 */
export async function setDomainEnabled(ctx: Context, actor: Actor, input: string, enabled: boolean, reason: string | null = null): Promise<DomainState> {
  const name = normalizeDomain(input);
  const why = enabled ? null : reason?.trim() || null;
  return withTransaction(ctx.pool, async (tx) => {
    const current = await sql.lockDomain(tx, name);
    if (!current) throw notFound('domain_not_found', `domain ${name} does not exist`);
    const row = (await sql.setDomainEnabled(tx, name, enabled, why))!;
    await appendAudit(tx, { ...actor, action: enabled ? 'domain.enable' : 'domain.disable', target: name, details: why === null ? {} : { reason: why } });
    const domain = { ...row, mailbox_count: await sql.countMailboxesInDomain(tx, name) };
    if (!enabled) await deleteDomainConsoleSessions(tx, name);
    if (enabled || !current.enabled) return { domain, invalidated: 0, invalidationId: null };
    const { count, lastId } = await appendDomainInvalidations(tx, name, 'domain_disabled', true);
    return { domain, invalidated: count, invalidationId: lastId };
  });
}

/** Notices by mail for the domain's mailboxes on or off, and their default language (undefined: unchanged). */
export async function setDomainNotices(ctx: Context, actor: Actor, input: string, on: boolean | undefined, language: string | null | undefined): Promise<DomainRow> {
  const name = normalizeDomain(input);
  const lang = language === undefined ? undefined : noticeLanguage(language);
  return withTransaction(ctx.pool, async (tx) => {
    const row = await sql.setDomainNotices(tx, name, on, lang);
    if (!row) throw notFound('domain_not_found', `domain ${name} does not exist`);
    await appendAudit(tx, { ...actor, action: 'domain.notices', target: name, details: { notices: row.notices, notice_language: row.notice_language } });
    return { ...row, mailbox_count: await sql.countMailboxesInDomain(tx, name) };
  });
}
