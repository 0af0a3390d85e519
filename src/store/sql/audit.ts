import type { Queryable } from '../pool.js';
import type { AuditRow } from './rows.js';

export interface AuditEntry {
  actor: string;
  action: string;
  target: string | null;
  sourceIp: string | null;
  /** Never a password or a hash: callers pass names, versions and rule codes only. */
  details?: Record<string, unknown>;
}

export async function appendAudit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.query({
    name: 'audit-append',
    text: 'INSERT INTO audit_log (actor, action, target, source_ip, details) VALUES ($1, $2, $3, $4, $5)',
    values: [e.actor, e.action, e.target, e.sourceIp, JSON.stringify(e.details ?? {})],
  });
}

/**
 * Two statements, not one with `$1 IS NULL OR target = $1`: a prepared
 * statement's generic plan (what the pool's connections settle on after five
 * runs) cannot know which branch holds, and for that form it walks the whole
 * log backwards by id, filtering on target — a full read of a large log for a
 * rare target (test/integration/query-plans.test.ts).
 */
export async function listAudit(db: Queryable, target: string | null, limit: number): Promise<AuditRow[]> {
  const r =
    target === null
      ? await db.query<AuditRow>({
          name: 'audit-list-all',
          text: 'SELECT id, at, actor, action, target, source_ip, details FROM audit_log ORDER BY id DESC LIMIT $1',
          values: [limit],
        })
      : await db.query<AuditRow>({
          name: 'audit-list-target',
          text: 'SELECT id, at, actor, action, target, source_ip, details FROM audit_log WHERE target = $1 ORDER BY id DESC LIMIT $2',
          values: [target, limit],
        });
  return r.rows;
}

const AUDIT_COLUMNS = 'id, at, actor, action, target, source_ip, details';

/** "No cursor": above every id, so the first page is the same index range read as the others. */
const NO_CURSOR = '9223372036854775807';

/**
 * Newest first, keyset by id (`before`: the last id of the previous page),
 * `limit + 1` rows so the caller knows whether there is more. `domains`: null =
 * every entry; else the entries whose target is one of those domains or an
 * address in one of them (a domain admin's view).
 *
 * One statement per shape, none with `$n IS NULL OR …`: a prepared
 * statement's generic plan cannot know which branch holds and walks the whole
 * log (see listAudit). Each reads its index from the cursor down:
 * - every entry: the primary key;
 * - one target (within the domains, if any): the (target, id) index;
 * - the domains' entries: for each domain, its newest `limit + 1` below the
 *   cursor from the (audit_target_domain(target), id) index (migration 0010),
 *   then the newest `limit + 1` of those — at most domains × (limit + 1) index
 *   entries per page, however large the log (test/integration/query-plans.test.ts).
 */
export async function listAuditPage(db: Queryable, target: string | null, domains: string[] | null, before: string | null, limit: number): Promise<AuditRow[]> {
  const cursor = before ?? NO_CURSOR;
  if (target !== null) {
    const r = await db.query<AuditRow>({
      name: 'audit-page-target',
      text: `SELECT ${AUDIT_COLUMNS} FROM audit_log
             WHERE target = $1 AND id < $3 AND ($2::text[] IS NULL OR audit_target_domain(target) = ANY($2))
             ORDER BY id DESC LIMIT $4`,
      values: [target, domains, cursor, limit + 1],
    });
    return r.rows;
  }
  if (domains !== null) {
    const r = await db.query<AuditRow>({
      name: 'audit-page-domains',
      text: `SELECT e.id, e.at, e.actor, e.action, e.target, e.source_ip, e.details
             FROM (SELECT DISTINCT unnest($1::text[]) AS name) d
             CROSS JOIN LATERAL (SELECT ${AUDIT_COLUMNS} FROM audit_log
                                 WHERE audit_target_domain(target) = d.name AND id < $2
                                 ORDER BY id DESC LIMIT $3) e
             ORDER BY e.id DESC LIMIT $3`,
      values: [domains, cursor, limit + 1],
    });
    return r.rows;
  }
  const r = await db.query<AuditRow>({
    name: 'audit-page-all',
    text: `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2`,
    values: [cursor, limit + 1],
  });
  return r.rows;
}
