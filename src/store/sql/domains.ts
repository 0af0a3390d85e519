import type { Queryable } from '../pool.js';
import type { DomainRow } from './rows.js';

/** Named, never `*`: a column added under a running daemon must not break its prepared statements. */
const DOMAIN_COLUMNS = 'name, enabled, disabled_reason, policy, created_at';

export async function insertDomain(db: Queryable, name: string): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({
    name: 'domain-insert',
    text: `INSERT INTO domains (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING ${DOMAIN_COLUMNS}`,
    values: [name],
  });
  return r.rows[0] ?? null;
}

export async function getDomain(db: Queryable, name: string): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({ name: 'domain-get', text: `SELECT ${DOMAIN_COLUMNS} FROM domains WHERE name = $1`, values: [name] });
  return r.rows[0] ?? null;
}

/** Keeps the domain (and its policy) from changing or going away until the transaction ends. */
export async function lockDomainShared(db: Queryable, name: string): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({ name: 'domain-lock-shared', text: `SELECT ${DOMAIN_COLUMNS} FROM domains WHERE name = $1 FOR SHARE`, values: [name] });
  return r.rows[0] ?? null;
}

/** Row lock: enabling, disabling and removal of one domain serialise here, and a self-service change waits for them. */
export async function lockDomain(db: Queryable, name: string): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({ name: 'domain-lock', text: `SELECT ${DOMAIN_COLUMNS} FROM domains WHERE name = $1 FOR UPDATE`, values: [name] });
  return r.rows[0] ?? null;
}

export async function listDomains(db: Queryable, only: string | null): Promise<DomainRow[]> {
  const r = await db.query<DomainRow>({
    name: 'domain-list',
    text: `SELECT d.name, d.enabled, d.disabled_reason, d.policy, d.created_at, (SELECT count(*)::int FROM mailboxes m WHERE m.domain = d.name) AS mailbox_count
             FROM domains d WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.name`,
    values: [only],
  });
  return r.rows;
}

export async function deleteDomain(db: Queryable, name: string): Promise<boolean> {
  const r = await db.query({ name: 'domain-delete', text: 'DELETE FROM domains WHERE name = $1', values: [name] });
  return (r.rowCount ?? 0) > 0;
}

export async function countMailboxesInDomain(db: Queryable, name: string): Promise<number> {
  const r = await db.query<{ n: number }>({
    name: 'domain-mailbox-count',
    text: 'SELECT count(*)::int AS n FROM mailboxes WHERE domain = $1',
    values: [name],
  });
  return r.rows[0]?.n ?? 0;
}

export async function setDomainPolicy(db: Queryable, name: string, policy: Record<string, unknown>): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({
    name: 'domain-set-policy',
    text: `UPDATE domains SET policy = $2 WHERE name = $1 RETURNING ${DOMAIN_COLUMNS}`,
    values: [name, JSON.stringify(policy)],
  });
  return r.rows[0] ?? null;
}

/** A disabled domain's reason is what Dovecot is told; enabling clears it. */
export async function setDomainEnabled(db: Queryable, name: string, enabled: boolean, reason: string | null): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({
    name: 'domain-set-enabled',
    text: `UPDATE domains SET enabled = $2, disabled_reason = CASE WHEN $2 THEN NULL ELSE $3 END WHERE name = $1 RETURNING ${DOMAIN_COLUMNS}`,
    values: [name, enabled, reason],
  });
  return r.rows[0] ?? null;
}

/** Every domain (only: null) or the named ones, each with its mailbox count (an index-only count per domain), in one query. */
export async function listDomainsIn(db: Queryable, only: string[] | null): Promise<Array<DomainRow & { mailbox_count: number }>> {
  const r = await db.query<DomainRow & { mailbox_count: number }>({
    name: 'domain-list-in',
    text: `SELECT d.name, d.enabled, d.disabled_reason, d.policy, d.created_at, (SELECT count(*)::int FROM mailboxes m WHERE m.domain = d.name) AS mailbox_count
             FROM domains d WHERE $1::text[] IS NULL OR d.name = ANY($1) ORDER BY d.name`,
    values: [only],
  });
  return r.rows;
}
