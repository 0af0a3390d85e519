import type { QueryConfig } from 'pg';
import type { Queryable } from '../pool.js';

/**
 * The daemon's statement timeout (database.statement_timeout_ms, seconds at
 * most) protects logins; one set-based statement over a million staged rows
 * takes longer by design. The import's transaction lifts it to an hour (SET
 * LOCAL: only this transaction) and its bulk statements wait as long on the
 * client side.
 */
const BULK_TIMEOUT_MS = 3_600_000;
const bulk = <T extends QueryConfig>(q: T): T => ({ ...q, query_timeout: BULK_TIMEOUT_MS + 1000 }) as T;

/**
 * `mailbox import`, set-based: the file's rows are staged in a temporary table
 * (batches of multi-row INSERTs from unnest arrays: one round trip and one plan
 * per batch), classified against `mailboxes` with joins, and applied with one
 * statement per kind of change. Nothing per row crosses the wire twice, so a
 * million lines cost a few dozen seconds, not a million round trips. The table
 * lives only as long as the transaction.
 */
export async function createImportStage(db: Queryable): Promise<void> {
  await db.query({ name: 'import-statement-timeout', text: `SELECT set_config('statement_timeout', '${BULK_TIMEOUT_MS}', true)` });
  await db.query({
    name: 'import-stage-create',
    text: `CREATE TEMPORARY TABLE import_rows (
             line integer NOT NULL, address text NOT NULL, domain text NOT NULL, hash text NOT NULL, display_name text
           ) ON COMMIT DROP`,
  });
}

export interface StagedBatch {
  lines: number[];
  addresses: string[];
  domains: string[];
  hashes: string[];
  displayNames: (string | null)[];
}

export async function stageImportRows(db: Queryable, b: StagedBatch): Promise<void> {
  await db.query({
    name: 'import-stage-rows',
    text: `INSERT INTO import_rows (line, address, domain, hash, display_name)
           SELECT line, address, domain, hash, display_name FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[])
             AS u(line, address, domain, hash, display_name)`,
    values: [b.lines, b.addresses, b.domains, b.hashes, b.displayNames],
  });
}

/** After staging: the address index the classification's joins and the duplicate check use. */
export async function indexImportStage(db: Queryable): Promise<void> {
  await db.query(bulk({ name: 'import-stage-index', text: 'CREATE INDEX ON import_rows (address, line)' }));
  await db.query(bulk({ name: 'import-stage-analyze', text: 'ANALYZE import_rows' }));
}

export interface ImportCounts {
  new: number;
  changed: number;
  unchanged: number;
}

/** What the staged rows would do; a later line for an address already seen in the file is not counted (it is refused). */
export async function classifyImport(db: Queryable): Promise<ImportCounts> {
  const r = await db.query<ImportCounts>(bulk({
    name: 'import-classify',
    text: `SELECT count(*) FILTER (WHERE m.id IS NULL)::int AS new,
                  count(*) FILTER (WHERE m.id IS NOT NULL AND (m.password_hash <> r.hash OR m.display_name IS DISTINCT FROM r.display_name))::int AS changed,
                  count(*) FILTER (WHERE m.password_hash = r.hash AND m.display_name IS NOT DISTINCT FROM r.display_name)::int AS unchanged
           FROM import_rows r LEFT JOIN mailboxes m ON m.address = r.address
           WHERE NOT EXISTS (SELECT 1 FROM import_rows e WHERE e.address = r.address AND e.line < r.line)`,
  }));
  return r.rows[0]!;
}

export interface ImportProblem {
  line: number;
  address: string;
  problem: 'duplicate' | 'no_domain' | 'exists_changed';
  /** For a duplicate: the first line with this address. */
  first_line: number | null;
  /** For exists_changed: the hash differs (not only the display name). */
  hash_differs: boolean;
}

/**
 * Lines the staged set refuses, in line order, at most `limit` (and the total):
 * an address seen on an earlier line, a domain that does not exist (unless
 * domains are created), an existing mailbox with other contents (unless
 * updating). Never the hash itself.
 */
export async function importProblems(db: Queryable, createDomains: boolean, update: boolean, limit: number): Promise<{ total: number; rows: ImportProblem[] }> {
  const r = await db.query<ImportProblem & { total: number }>(bulk({
    name: 'import-problems',
    text: `WITH firsts AS (SELECT address, min(line) AS first_line FROM import_rows GROUP BY address),
                p AS (
                  SELECT r.line, r.address,
                         CASE WHEN f.first_line < r.line THEN 'duplicate'
                              WHEN NOT $1::boolean AND NOT EXISTS (SELECT 1 FROM domains d WHERE d.name = r.domain) THEN 'no_domain'
                              ELSE 'exists_changed' END AS problem,
                         CASE WHEN f.first_line < r.line THEN f.first_line END AS first_line,
                         COALESCE(m.password_hash <> r.hash, false) AS hash_differs
                  FROM import_rows r JOIN firsts f ON f.address = r.address
                  LEFT JOIN mailboxes m ON m.address = r.address
                  WHERE f.first_line < r.line
                     OR (NOT $1::boolean AND NOT EXISTS (SELECT 1 FROM domains d WHERE d.name = r.domain))
                     OR (NOT $2::boolean AND m.id IS NOT NULL AND (m.password_hash <> r.hash OR m.display_name IS DISTINCT FROM r.display_name)))
           SELECT line, address, problem, first_line, hash_differs, count(*) OVER ()::int AS total FROM p ORDER BY line LIMIT $3`,
    values: [createDomains, update, limit],
  }));
  return { total: r.rows[0]?.total ?? 0, rows: r.rows.map((row) => ({ line: row.line, address: row.address, problem: row.problem, first_line: row.first_line, hash_differs: row.hash_differs })) };
}

/** Changed lines (for the report), in line order, at most `limit`. */
export async function importChanges(db: Queryable, limit: number): Promise<Array<{ line: number; address: string; hash_differs: boolean }>> {
  const r = await db.query<{ line: number; address: string; hash_differs: boolean }>(bulk({
    name: 'import-changes',
    text: `SELECT r.line, r.address, m.password_hash <> r.hash AS hash_differs
           FROM import_rows r JOIN mailboxes m ON m.address = r.address
           WHERE m.password_hash <> r.hash OR m.display_name IS DISTINCT FROM r.display_name
           ORDER BY r.line LIMIT $1`,
    values: [limit],
  }));
  return r.rows;
}

/** The domains the staged rows need that do not exist yet (for the report), at most `limit`. */
export async function missingImportDomains(db: Queryable, limit: number): Promise<string[]> {
  const r = await db.query<{ name: string }>(bulk({
    name: 'import-missing-domains',
    text: `SELECT DISTINCT r.domain AS name FROM import_rows r WHERE NOT EXISTS (SELECT 1 FROM domains d WHERE d.name = r.domain) ORDER BY 1 LIMIT $1`,
    values: [limit],
  }));
  return r.rows.map((row) => row.name);
}

/**
 * The domains the staged rows need that do not exist yet, added, each with its
 * `domain.add` audit line (one statement: a thousand domains were a thousand
 * round trips); returns their names.
 */
export async function insertImportDomains(db: Queryable, actor: string, sourceIp: string | null): Promise<string[]> {
  const r = await db.query<{ name: string }>(bulk({
    name: 'import-insert-domains',
    text: `WITH ins AS (
             INSERT INTO domains (name)
             SELECT DISTINCT r.domain FROM import_rows r WHERE NOT EXISTS (SELECT 1 FROM domains d WHERE d.name = r.domain)
             ORDER BY 1 ON CONFLICT (name) DO NOTHING RETURNING name),
           aud AS (INSERT INTO audit_log (actor, action, target, source_ip, details) SELECT $1, 'domain.add', name, $2, '{"via": "import"}'::jsonb FROM ins)
           SELECT name FROM ins`,
    values: [actor, sourceIp],
  }));
  return r.rows.map((row) => row.name).sort();
}

/**
 * The domains the new mailboxes go into, locked FOR KEY SHARE until commit — the
 * lock each row's foreign-key check would take, taken once per domain: no
 * concurrent `domain remove` can leave the imported mailboxes without theirs.
 * `locked` < `needed`: a domain vanished since classification.
 */
export async function lockImportDomains(db: Queryable): Promise<{ needed: number; locked: number }> {
  const r = await db.query<{ needed: number; locked: number }>(bulk({
    name: 'import-lock-domains',
    text: `WITH need AS (SELECT DISTINCT r.domain FROM import_rows r WHERE NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.address = r.address)),
                locked AS (SELECT d.name FROM domains d JOIN need ON need.domain = d.name FOR KEY SHARE OF d)
           SELECT (SELECT count(*) FROM need)::int AS needed, (SELECT count(*) FROM locked)::int AS locked`,
  }));
  return r.rows[0]!;
}

/**
 * Whether this connection may insert without per-row triggers
 * (session_replication_role needs a superuser). The foreign keys of the new rows
 * are per-row triggers — a lookup and a row lock per mailbox and per history row,
 * 40 % of the import — and here they check nothing the statement has not
 * established set-based: the domains are locked by lockImportDomains, the history
 * rows take their mailbox ids from the INSERT's RETURNING. Other triggers on
 * mailboxes and password_history: none (the invalidations trigger is on another
 * table, written later with triggers on).
 */
export async function mayInsertWithoutTriggers(db: Queryable): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>({ name: 'import-may-skip-triggers', text: `SELECT current_setting('is_superuser') = 'on' AS ok` });
  return r.rows[0]!.ok;
}

/**
 * New mailboxes, each with its first history entry (ids straight from the
 * INSERT's RETURNING). No audit line per mailbox: the caller appends one for the
 * whole import (a million audit rows and their two index entries each were a
 * fifth of the import's cost). The import entry's `at` and each mailbox's
 * `created_at` are both the transaction's now(), so they are equal: that is
 * how the log answers who created a mailbox (importAuditFor). With
 * `withoutTriggers` (see mayInsertWithoutTriggers; after lockImportDomains) the
 * per-row foreign-key triggers are off for this statement only.
 */
export async function insertImportedMailboxes(db: Queryable, withoutTriggers: boolean): Promise<number> {
  if (withoutTriggers) await db.query({ name: 'import-triggers-off', text: `SELECT set_config('session_replication_role', 'replica', true)` });
  const r = await db.query<{ count: number }>(bulk({
    name: 'import-insert-mailboxes',
    text: `WITH ins AS (
             INSERT INTO mailboxes (address, domain, display_name, password_hash)
             SELECT r.address, r.domain, r.display_name, r.hash FROM import_rows r
             WHERE NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.address = r.address)
             RETURNING id, password_hash),
           hist AS (INSERT INTO password_history (mailbox_id, password_hash) SELECT id, password_hash FROM ins)
           SELECT count(*)::int AS count FROM ins`,
  }));
  if (withoutTriggers) await db.query({ name: 'import-triggers-on', text: `SELECT set_config('session_replication_role', 'origin', true)` });
  return r.rows[0]!.count;
}

/**
 * The import audit entry that created a mailbox, if an import did: the one
 * `mailbox.import` entry (no target) written in the transaction that inserted
 * it, found by the shared transaction timestamp.
 */
export async function importAuditFor(db: Queryable, address: string): Promise<{ id: string; at: Date; actor: string; details: Record<string, unknown> } | null> {
  const r = await db.query<{ id: string; at: Date; actor: string; details: Record<string, unknown> }>({
    name: 'import-audit-for',
    text: `SELECT a.id::text AS id, a.at, a.actor, a.details FROM mailboxes m
           JOIN audit_log a ON a.at = m.created_at AND a.action = 'mailbox.import' AND a.target IS NULL
           WHERE m.address = $1 ORDER BY a.id LIMIT 1`,
    values: [address],
  });
  return r.rows[0] ?? null;
}

/**
 * Existing mailboxes with other contents take the file's: a different hash is a
 * new credential (version + 1, history, audit); a different display name only
 * changes the name. A replaced hash is also an invalidation (the nodes drop the
 * old credential and kick its sessions): appended in this same statement, which
 * must be the LAST of the transaction (the log's commit-order lock, see
 * appendInvalidation). Returns how many rows changed, how many of them took a new
 * hash, and the last invalidation id (null: none).
 */
export async function updateImportedMailboxes(db: Queryable, actor: string, sourceIp: string | null): Promise<{ changed: number; credentials: number; lastInvalidation: string | null }> {
  const r = await db.query<{ changed: number; credentials: number; last_id: string | null }>(bulk({
    name: 'import-update-mailboxes',
    text: `WITH diff AS (
             SELECT m.id, m.address, r.hash, r.display_name, m.password_hash <> r.hash AS new_hash
             FROM import_rows r JOIN mailboxes m ON m.address = r.address
             WHERE m.password_hash <> r.hash OR m.display_name IS DISTINCT FROM r.display_name
             FOR UPDATE OF m),
           upd AS (
             UPDATE mailboxes m SET password_hash = diff.hash, display_name = diff.display_name,
                    credential_version = m.credential_version + CASE WHEN diff.new_hash THEN 1 ELSE 0 END,
                    password_changed_at = CASE WHEN diff.new_hash THEN now() ELSE m.password_changed_at END,
                    updated_at = now()
             FROM diff WHERE m.id = diff.id RETURNING m.id),
           hist AS (INSERT INTO password_history (mailbox_id, password_hash) SELECT id, hash FROM diff WHERE new_hash),
           aud AS (
             INSERT INTO audit_log (actor, action, target, source_ip, details)
             SELECT $1, 'mailbox.import', address, $2, jsonb_build_object('changed', CASE WHEN new_hash THEN 'password' ELSE 'display_name' END) FROM diff),
           inv AS (INSERT INTO invalidations (address, reason, kick) SELECT address, 'import', true FROM diff WHERE new_hash ORDER BY address RETURNING id)
           SELECT (SELECT count(*) FROM upd)::int AS changed, (SELECT count(*) FROM diff WHERE new_hash)::int AS credentials,
                  (SELECT max(id)::text FROM inv) AS last_id`,
    values: [actor, sourceIp],
  }));
  const row = r.rows[0]!;
  return { changed: row.changed, credentials: row.credentials, lastInvalidation: row.last_id };
}
