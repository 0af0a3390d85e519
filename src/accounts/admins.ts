import type { Actor, Context } from '../core/context.js';
import { conflict, notFound } from '../core/errors.js';
import { normalizeAddress, normalizeDomain } from '../core/address.js';
import { withTransaction } from '../store/pool.js';
import * as sql from '../store/sql/admin-roles.js';
import { appendAudit } from '../store/sql/audit.js';
import { getDomain } from '../store/sql/domains.js';
import { getMailbox } from '../store/sql/mailboxes.js';
import type { AdminRoleRow } from '../store/sql/rows.js';
import type { Queryable } from '../store/pool.js';

/**
 * Console roles (DESIGN §8): granted to a mailbox, whose own password is the
 * console login. A global admin reaches every domain; a domain admin only its
 * domains (their mailboxes, policy, audit entries). The role goes with the
 * mailbox: deleting either the mailbox or the domain removes it (cascade).
 */
export type Role = { kind: 'global' } | { kind: 'domain'; domain: string };

export interface AdminGrant {
  address: string;
  role: Role;
  granted_at: string;
  granted_by: string;
}

/** The flat form the CLI's --json and the admin API show. */
export interface AdminGrantView {
  address: string;
  role: 'global' | 'domain';
  domain: string | null;
  granted_at: string;
  granted_by: string;
}

export const grantView = (g: AdminGrant): AdminGrantView => ({
  address: g.address,
  role: g.role.kind,
  domain: g.role.kind === 'domain' ? g.role.domain : null,
  granted_at: g.granted_at,
  granted_by: g.granted_by,
});

export const roleOf = (domain: string | null): Role => (domain === null ? { kind: 'global' } : { kind: 'domain', domain });

function toGrant(row: AdminRoleRow): AdminGrant {
  return { address: row.address, role: roleOf(row.domain), granted_at: row.granted_at.toISOString(), granted_by: row.granted_by };
}

async function mailboxId(db: Queryable, input: string): Promise<{ id: string; address: string }> {
  const { address } = normalizeAddress(input);
  const row = await getMailbox(db, address);
  if (!row) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
  return { id: row.id, address };
}

/** Refused when the mailbox already holds the role (409 admin_exists); audit-logged as admin.grant. */
export async function grantAdmin(ctx: Context, actor: Actor, address: string, role: Role): Promise<AdminGrant> {
  const domain = role.kind === 'domain' ? normalizeDomain(role.domain) : null;
  return withTransaction(ctx.pool, async (tx) => {
    const mailbox = await mailboxId(tx, address);
    if (domain !== null && !(await getDomain(tx, domain))) throw notFound('domain_not_found', `domain ${domain} does not exist`);
    const row = await sql.insertAdminRole(tx, mailbox.id, domain, actor.actor);
    const name = domain ?? 'global';
    if (!row) throw conflict('admin_exists', `${mailbox.address} is already ${domain === null ? 'a global admin' : `an admin of ${domain}`}`);
    await appendAudit(tx, { ...actor, action: 'admin.grant', target: mailbox.address, details: { role: name } });
    return toGrant(row);
  });
}

/** Rows removed (0 when the mailbox held no such role: nothing is logged then); audit-logged as admin.revoke. */
export async function revokeAdmin(ctx: Context, actor: Actor, address: string, role: Role | 'all'): Promise<number> {
  const scope = role === 'all' ? 'all' : role.kind === 'global' ? 'global' : { domain: normalizeDomain(role.domain) };
  return withTransaction(ctx.pool, async (tx) => {
    const mailbox = await mailboxId(tx, address);
    const removed = await sql.deleteAdminRoles(tx, mailbox.id, scope);
    if (removed.length > 0) {
      await appendAudit(tx, { ...actor, action: 'admin.revoke', target: mailbox.address, details: { roles: removed.map((r) => r.domain ?? 'global') } });
    }
    return removed.length;
  });
}

/** Every grant, or (with a domain) that domain's admins — global admins are listed only without a domain. */
export async function listAdmins(ctx: Context, domain?: string): Promise<AdminGrant[]> {
  const only = domain === undefined ? null : normalizeDomain(domain);
  return (await sql.listAdminRoles(ctx.pool, only)).map(toGrant);
}

export async function rolesOf(ctx: Context, mailboxId: string): Promise<Role[]> {
  return (await sql.rolesOfMailbox(ctx.pool, mailboxId)).map(roleOf);
}

/** The domains a set of roles may reach: null = every domain. */
export function reachableDomains(roles: Role[]): string[] | null {
  if (roles.some((r) => r.kind === 'global')) return null;
  return [...new Set(roles.flatMap((r) => (r.kind === 'domain' ? [r.domain] : [])))].sort();
}
