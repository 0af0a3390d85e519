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

/**
 * Newest first, keyset by id (`before`: the last id of the previous page),
 * `limit + 1` rows so the caller knows whether there is more. `domains`: null =
 * every entry; else the entries whose target is one of those domains or an
 * address in one of them (a domain admin's view).
 */
export async function listAuditPage(db: Queryable, target: string | null, domains: string[] | null, before: string | null, limit: number): Promise<AuditRow[]> {
  const r = await db.query<AuditRow>({
    name: 'audit-page',
    text: `SELECT id, at, actor, action, target, source_ip, details FROM audit_log
           WHERE ($1::text IS NULL OR target = $1)
             AND ($2::text[] IS NULL OR target = ANY($2) OR split_part(target, '@', 2) = ANY($2))
             AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4`,
    values: [target, domains, before, limit + 1],
  });
  return r.rows;
}
