import type { Context } from '../core/context.js';
import type { AuditRow } from '../store/sql/rows.js';

/** Newest first, keyset by id; `domains` null = every entry, else entries about those domains or their mailboxes. */
export async function listAuditPage(
  _ctx: Context,
  _opts: { target?: string; domains: string[] | null; before?: string; limit: number },
): Promise<{ items: AuditRow[]; next: string | null }> {
  throw new Error('listAuditPage: not implemented yet');
}
