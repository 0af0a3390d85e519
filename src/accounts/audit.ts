import type { Context } from '../core/context.js';
import { usage } from '../core/errors.js';
import * as sql from '../store/sql/audit.js';
import type { AuditRow } from '../store/sql/rows.js';
import { keysetPage } from '../store/sql/page.js';

const BIGINT_MAX = 9_223_372_036_854_775_807n;

/**
 * One page of the audit log, newest first; `next` is the `before` of the next
 * page. `domains` null = every entry (global admin), else only entries about
 * those domains or their mailboxes: a domain admin never sees another domain's,
 * nor global ones (tokens, nodes).
 */
export async function listAuditPage(
  ctx: Context,
  opts: { target?: string; domains: string[] | null; before?: string; limit: number },
): Promise<{ items: AuditRow[]; next: string | null }> {
  // An id is a bigint: 19 digits can still overflow it, which PostgreSQL would answer with an error, not a page.
  if (opts.before !== undefined && !(/^[1-9][0-9]{0,18}$/.test(opts.before) && BigInt(opts.before) <= BIGINT_MAX)) {
    throw usage('invalid_cursor', `audit cursor: expected an entry id, got ${JSON.stringify(opts.before)}`);
  }
  const limit = Math.max(1, Math.floor(opts.limit));
  const target = opts.target?.trim() || null;
  const rows = await sql.listAuditPage(ctx.pool, target, opts.domains, opts.before ?? null, limit);
  const page = keysetPage(rows, limit, (last) => last.id);
  return { items: page.rows, next: page.next };
}
