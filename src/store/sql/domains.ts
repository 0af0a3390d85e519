import type { Queryable } from '../pool.js';
import type { DomainRow } from './rows.js';
import { containsPattern } from './search.js';
import { keysetPage } from './page.js';

/** Named, never `*`: a column added under a running daemon must not break its prepared statements. */
const DOMAIN_COLUMNS = 'name, enabled, disabled_reason, policy, created_at, notices, notice_language';

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

/** Notices on or off for the domain's mailboxes, and their default language (undefined: unchanged). */
export async function setDomainNotices(db: Queryable, name: string, on: boolean | undefined, language: string | null | undefined): Promise<DomainRow | null> {
  const r = await db.query<DomainRow>({
    name: 'domain-set-notices',
    text: `UPDATE domains SET notices = COALESCE($2, notices), notice_language = CASE WHEN $3::boolean THEN $4 ELSE notice_language END
           WHERE name = $1 RETURNING ${DOMAIN_COLUMNS}`,
    values: [name, on ?? null, language !== undefined, language ?? null],
  });
  return r.rows[0] ?? null;
}

/** A domain listing's columns: the domain's, then its mailbox count (index-only on the (domain, address) index, for each row read). */
const DOMAIN_PAGE_COLUMNS = `d.name, d.enabled, d.disabled_reason, d.policy, d.created_at, d.notices, d.notice_language,
       (SELECT count(*)::int FROM mailboxes m WHERE m.domain = d.name) AS mailbox_count`;

export type DomainWithCount = DomainRow & { mailbox_count: number };

/**
 * One page of domains by name, after `after` (keyset, like the mailbox pages:
 * `name > $after` is an index condition on the primary key in the generic plan
 * too, so a page costs the same at any depth; the first page starts after '').
 * Each row carries its mailbox count, computed only for the rows the page reads
 * (the `limit + 1` of them: the look-ahead row's is one more index-only count),
 * never by a pass over the whole mailboxes index. `only`: null = every domain,
 * else just those (a domain admin's) — a statement of its own, `name = ANY($1)`
 * an index condition too, since `$1 IS NULL OR …` is only a filter in a generic
 * plan and would walk every domain. `q`: a case-insensitive substring of the
 * name, filtered along the index from the cursor (no trigram index: a search
 * that matches almost nothing reads to the end, ~40 ms at 100,000 domains; a
 * page of 50 without one, ~1.5 ms). `next`: where the next page starts, null
 * on the last.
 */
export async function listDomainPage(
  db: Queryable,
  only: string[] | null,
  q: string | null,
  after: string | null,
  limit: number,
): Promise<{ rows: DomainWithCount[]; next: string | null }> {
  const r =
    only === null
      ? await db.query<DomainWithCount>({
          name: 'domain-page',
          text: `SELECT ${DOMAIN_PAGE_COLUMNS} FROM domains d
                 WHERE d.name > $1 AND ($2::text IS NULL OR d.name ILIKE $2)
                 ORDER BY d.name LIMIT $3`,
          values: [after ?? '', containsPattern(q), limit + 1],
        })
      : await db.query<DomainWithCount>({
          name: 'domain-page-in',
          text: `SELECT ${DOMAIN_PAGE_COLUMNS} FROM domains d
                 WHERE d.name = ANY($1::text[]) AND d.name > $2 AND ($3::text IS NULL OR d.name ILIKE $3)
                 ORDER BY d.name LIMIT $4`,
          values: [only, after ?? '', containsPattern(q), limit + 1],
        });
  return keysetPage(r.rows, limit, (last) => last.name);
}
