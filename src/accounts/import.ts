import type { Actor, Context } from '../core/context.js';
import { MailpassdError, refused } from '../core/errors.js';
import { isKnownHash } from '../auth/hash.js';
import { legacyCostProblem } from '../auth/legacy.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { getDomain, insertDomain } from '../store/sql/domains.js';
import { appendHistory } from '../store/sql/history.js';
import { insertMailbox } from '../store/sql/mailboxes.js';
import { newMailboxAddress } from '../core/address.js';

export interface ImportLine {
  line: number;
  address: string;
  hash: string;
  displayName: string | null;
}

/**
 * `address<TAB>hash[<TAB>display name]` per line — what
 * `psql -At -F $'\t' -c "SELECT username, password, name FROM mailbox"` prints for
 * a Dovecot `passdb sql` table. Blank lines and `#` comments are skipped. Every
 * problem is reported with its line number before anything is written.
 */
export function parseImport(text: string): ImportLine[] {
  const problems: string[] = [];
  const rows: ImportLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '' || raw.startsWith('#')) return;
    const [addr = '', hash = '', name = ''] = raw.split('\t');
    try {
      if (!isKnownHash(hash.trim())) throw refused('unknown_hash_scheme', 'hash scheme not recognised (argon2id/i, SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, SSHA512, SSHA256)');
      const tooCostly = legacyCostProblem(hash.trim());
      if (tooCostly) throw refused('hash_too_costly', tooCostly);
      rows.push({ line: i + 1, address: newMailboxAddress(addr.trim()).address, hash: hash.trim(), displayName: name.trim() || null });
    } catch (err) {
      problems.push(`line ${i + 1}: ${(err as Error).message}`);
    }
  });
  if (problems.length) throw refused('import_invalid', `nothing imported: ${problems.slice(0, 20).join('; ')}${problems.length > 20 ? ` (+${problems.length - 20} more)` : ''}`);
  return rows;
}

/** All or nothing, in one transaction. Imported hashes become argon2id on each user's next login. */
export async function importMailboxes(ctx: Context, actor: Actor, rows: ImportLine[], createDomains: boolean): Promise<{ imported: number; domainsCreated: string[] }> {
  return withTransaction(ctx.pool, async (tx) => {
    const created: string[] = [];
    for (const row of rows) {
      const domain = row.address.slice(row.address.indexOf('@') + 1);
      if (!(await getDomain(tx, domain))) {
        if (!createDomains) throw new MailpassdError('domain_not_found', `line ${row.line}: domain ${domain} does not exist (use --create-domains)`);
        await insertDomain(tx, domain);
        await appendAudit(tx, { ...actor, action: 'domain.add', target: domain, details: { via: 'import' } });
        created.push(domain);
      }
      const inserted = await insertMailbox(tx, { address: row.address, domain, displayName: row.displayName, passwordHash: row.hash, expiresAt: null, quotaBytes: null });
      if (!inserted) throw new MailpassdError('mailbox_exists', `line ${row.line}: mailbox ${row.address} already exists`);
      await appendHistory(tx, inserted.id, row.hash);
      await appendAudit(tx, { ...actor, action: 'mailbox.import', target: row.address });
    }
    return { imported: rows.length, domainsCreated: created };
  });
}
