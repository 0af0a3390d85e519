import type { Queryable } from '../pool.js';
import type { AdminRoleRow } from './rows.js';

const GRANT_COLUMNS = 'm.address, r.domain, r.granted_at, r.granted_by';

/** Null when the mailbox already holds the role (the unique index reads a global role's NULL domain as ''). */
export async function insertAdminRole(db: Queryable, mailboxId: string, domain: string | null, grantedBy: string): Promise<AdminRoleRow | null> {
  const r = await db.query<AdminRoleRow>({
    name: 'admin-role-insert',
    text: `WITH added AS (
             INSERT INTO admin_roles (mailbox_id, domain, granted_by) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox_id, (COALESCE(domain, ''))) DO NOTHING
             RETURNING mailbox_id, domain, granted_at, granted_by)
           SELECT ${GRANT_COLUMNS} FROM added r JOIN mailboxes m ON m.id = r.mailbox_id`,
    values: [mailboxId, domain, grantedBy],
  });
  return r.rows[0] ?? null;
}

/** `scope`: one domain, 'global', or 'all' (every role of the mailbox). Returns the roles removed. */
export async function deleteAdminRoles(db: Queryable, mailboxId: string, scope: { domain: string } | 'global' | 'all'): Promise<Array<{ domain: string | null }>> {
  const r = await db.query<{ domain: string | null }>({
    name: 'admin-role-delete',
    text: `DELETE FROM admin_roles WHERE mailbox_id = $1
             AND ($2 = 'all' OR ($2 = 'global' AND domain IS NULL) OR ($2 = 'domain' AND domain = $3))
           RETURNING domain`,
    values: [mailboxId, typeof scope === 'string' ? scope : 'domain', typeof scope === 'string' ? null : scope.domain],
  });
  return r.rows;
}

/** Every grant (domain null), or the grants of one domain; global grants are listed only without a domain. */
export async function listAdminRoles(db: Queryable, domain: string | null): Promise<AdminRoleRow[]> {
  const r = await db.query<AdminRoleRow>({
    name: 'admin-role-list',
    text: `SELECT ${GRANT_COLUMNS} FROM admin_roles r JOIN mailboxes m ON m.id = r.mailbox_id
           WHERE $1::text IS NULL OR r.domain = $1
           ORDER BY m.address, r.domain NULLS FIRST`,
    values: [domain],
  });
  return r.rows;
}

/** The domains a mailbox administers; a null entry is the global role. */
export async function rolesOfMailbox(db: Queryable, mailboxId: string): Promise<Array<string | null>> {
  const r = await db.query<{ domain: string | null }>({
    name: 'admin-role-of',
    text: 'SELECT domain FROM admin_roles WHERE mailbox_id = $1 ORDER BY domain NULLS FIRST',
    values: [mailboxId],
  });
  return r.rows.map((row) => row.domain);
}
