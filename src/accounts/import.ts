import { createHash, type Hash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Actor, Context } from '../core/context.js';
import { refused } from '../core/errors.js';
import { isKnownHash } from '../auth/hash.js';
import { legacyCostProblem } from '../auth/legacy.js';
import { withTransaction, type Client } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import {
  classifyImport,
  createImportStage,
  importChanges,
  importProblems,
  indexImportStage,
  insertImportDomains,
  insertImportedMailboxes,
  lockImportDomains,
  mayInsertWithoutTriggers,
  missingImportDomains,
  stageImportRows,
  updateImportedMailboxes,
  type StagedBatch,
} from '../store/sql/import.js';
import { notifyInvalidation } from '../store/sql/invalidations.js';
import { newMailboxAddress, rememberedDomains } from '../core/address.js';

export interface ImportLine {
  line: number;
  address: string;
  hash: string;
  displayName: string | null;
}

/** A refused line: its number and why. Never the hash (nor, for a password pasted where the hash belongs, the password). */
export interface RefusedLine {
  line: number;
  reason: string;
}

export interface ImportReport {
  dryRun: boolean;
  /** Lines read, blank lines and comments included. */
  lines: number;
  new: number;
  changed: number;
  unchanged: number;
  refused: number;
  /** The first REPORT_LIMIT refused lines, in line order. */
  refusedLines: RefusedLine[];
  /** The first REPORT_LIMIT changed lines: what would change (`password` or `display_name`). */
  changedLines: Array<{ line: number; address: string; change: 'password' | 'display_name' }>;
  /** Mailboxes written: new + changed; 0 on a dry run. */
  imported: number;
  domainsCreated: string[];
  /** A dry run with createDomains: the domains the file needs that do not exist (would be added), at most REPORT_LIMIT. */
  domainsMissing: string[];
}

export interface ImportOptions {
  createDomains: boolean;
  /** Existing mailboxes whose hash or display name differ take the file's; without it such lines are refused. */
  update: boolean;
  dryRun: boolean;
  /** Called every batch: lines and bytes read so far. */
  onProgress?: (lines: number, bytes: number) => void;
  /** Called once every line is staged, before the classification and the writes. */
  onStaged?: (lines: number) => void;
}

/** Rows per staging INSERT: large enough that round trips do not dominate, small enough to keep memory flat. */
const BATCH_ROWS = 5000;
/** Refused and changed lines listed in a report (all of them are counted). */
export const REPORT_LIMIT = 1000;

/**
 * One line of `address<TAB>hash[<TAB>display name]` — what
 * `psql -At -F $'\t' -c "SELECT username, password, name FROM mailbox"` prints
 * for a Dovecot `passdb sql` table. Blank lines and `#` comments give null.
 */
export function parseImportLine(raw: string, line: number, domainOf?: (typed: string) => string): ImportLine | RefusedLine | null {
  if (raw.trim() === '' || raw.startsWith('#')) return null;
  const [addr = '', rawHash = '', name = ''] = raw.split('\t');
  const hash = rawHash.trim();
  try {
    if (!isKnownHash(hash)) throw refused('unknown_hash_scheme', 'hash scheme not recognised (argon2id/i, SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, SSHA512, SSHA256)');
    const tooCostly = legacyCostProblem(hash);
    if (tooCostly) throw refused('hash_too_costly', tooCostly);
    return { line, address: newMailboxAddress(addr.trim(), domainOf).address, hash, displayName: name.trim() || null };
  } catch (err) {
    return { line, reason: (err as Error).message };
  }
}

/** Splits a byte stream into lines without holding more than one chunk and one partial line. */
async function* linesOf(input: AsyncIterable<Buffer | string>, digest: Hash): AsyncGenerator<{ text: string; bytes: number }> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of input) {
    digest.update(chunk);
    const text = carry + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const raw = text.slice(start, nl);
      yield { text: raw.endsWith('\r') ? raw.slice(0, -1) : raw, bytes: nl - start + 1 };
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  carry += decoder.end();
  if (carry !== '') yield { text: carry.endsWith('\r') ? carry.slice(0, -1) : carry, bytes: carry.length };
}

const emptyBatch = (): StagedBatch => ({ lines: [], addresses: [], domains: [], hashes: [], displayNames: [] });

/** Why a staged line is refused, in words (the SQL says which rule). */
function problemReason(p: { problem: string; address: string; first_line: number | null }): string {
  switch (p.problem) {
    case 'duplicate':
      return `mailbox ${p.address} already appears on line ${p.first_line}`;
    case 'no_domain':
      return `domain ${p.address.slice(p.address.indexOf('@') + 1)} does not exist (use --create-domains)`;
    default:
      return `mailbox ${p.address} exists with a different hash or display name (use --update to replace it)`;
  }
}

/**
 * Streams the file into one transaction: all or nothing. Lines are parsed and
 * staged in batches as they are read (memory stays flat whatever the size),
 * then classified and applied set-based. Any refused line — unparsable, a
 * duplicate address, a missing domain, a changed mailbox without `update` —
 * refuses the whole file, naming the lines. A dry run reports the same and
 * rolls back. Imported hashes become argon2id on each user's next login.
 */
export async function importMailboxes(ctx: Context, actor: Actor, input: AsyncIterable<Buffer | string>, opts: ImportOptions): Promise<ImportReport> {
  const rollback = new Error('dry run');
  let report: ImportReport | null = null;
  try {
    await withTransaction(ctx.pool, async (tx) => {
      report = await importInTransaction(tx, actor, input, opts);
      if (opts.dryRun) throw rollback;
      if (report.refused) {
        const listed = report.refusedLines.slice(0, 20).map((r) => `line ${r.line}: ${r.reason}`);
        throw refused('import_invalid', `nothing imported: ${listed.join('; ')}${report.refused > 20 ? ` (+${report.refused - 20} more)` : ''}`, { refused: report.refused });
      }
    });
  } catch (err) {
    if (err !== rollback) throw err;
  }
  return report!;
}

async function importInTransaction(tx: Client, actor: Actor, input: AsyncIterable<Buffer | string>, opts: ImportOptions): Promise<ImportReport> {
  await createImportStage(tx);
  const parseRefused: RefusedLine[] = [];
  let parseRefusedCount = 0;
  let lines = 0;
  let bytes = 0;
  let batch = emptyBatch();
  // Names the file in the import's one audit entry (which file created these mailboxes).
  const digest = createHash('sha256');
  const domainOf = rememberedDomains();
  // One batch in flight while the next is parsed: the CLI and PostgreSQL work at the same time.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    await inFlight;
    const full = batch;
    batch = emptyBatch();
    if (full.lines.length) {
      inFlight = stageImportRows(tx, full);
      // Handled at the next flush; until then a failure must not count as unhandled.
      inFlight.catch(() => undefined);
    }
    opts.onProgress?.(lines, bytes);
  };
  for await (const { text, bytes: n } of linesOf(input, digest)) {
    lines++;
    bytes += n;
    const parsed = parseImportLine(text, lines, domainOf);
    if (parsed === null) continue;
    if ('reason' in parsed) {
      parseRefusedCount++;
      if (parseRefused.length < REPORT_LIMIT) parseRefused.push(parsed);
      continue;
    }
    batch.lines.push(parsed.line);
    batch.addresses.push(parsed.address);
    batch.domains.push(parsed.address.slice(parsed.address.indexOf('@') + 1));
    batch.hashes.push(parsed.hash);
    batch.displayNames.push(parsed.displayName);
    if (batch.lines.length >= BATCH_ROWS) await flush();
  }
  await flush();
  await inFlight;
  opts.onStaged?.(lines);
  await indexImportStage(tx);

  const counts = await classifyImport(tx);
  const problems = await importProblems(tx, opts.createDomains, opts.update, REPORT_LIMIT);
  const refusedLines = [...parseRefused, ...problems.rows.map((p) => ({ line: p.line, reason: problemReason(p) }))]
    .sort((a, b) => a.line - b.line)
    .slice(0, REPORT_LIMIT);
  const changedLines = (counts.changed ? await importChanges(tx, REPORT_LIMIT) : []).map((c) => ({ line: c.line, address: c.address, change: c.hash_differs ? ('password' as const) : ('display_name' as const) }));
  const report: ImportReport = {
    dryRun: opts.dryRun,
    lines,
    ...counts,
    refused: parseRefusedCount + problems.total,
    refusedLines,
    changedLines,
    imported: 0,
    domainsCreated: [],
    domainsMissing: opts.createDomains && opts.dryRun ? await missingImportDomains(tx, REPORT_LIMIT) : [],
  };
  if (opts.dryRun || report.refused) return report;

  if (opts.createDomains) {
    report.domainsCreated = await insertImportDomains(tx, actor.actor, actor.sourceIp);
  }
  const domains = await lockImportDomains(tx);
  if (domains.locked < domains.needed) throw refused('import_invalid', 'nothing imported: a domain of the file was removed during the import');
  const inserted = await insertImportedMailboxes(tx, await mayInsertWithoutTriggers(tx));
  // One entry for the whole import, not one per mailbox: its `at` equals each new mailbox's created_at (importAuditFor).
  if (inserted) await appendAudit(tx, { ...actor, action: 'mailbox.import', target: null, details: { created: inserted, lines, file_sha256: digest.digest('hex') } });
  // Last: a replaced hash appends to the invalidation log, whose lock is held until commit.
  const updated = counts.changed ? await updateImportedMailboxes(tx, actor.actor, actor.sourceIp) : { changed: 0, lastInvalidation: null };
  if (updated.lastInvalidation !== null) await notifyInvalidation(tx, updated.lastInvalidation);
  report.imported = inserted + updated.changed;
  return report;
}
