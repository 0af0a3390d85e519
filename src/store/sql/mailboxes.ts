import type { Queryable } from '../pool.js';
import type { AuthRow, MailboxRow } from './rows.js';
import { containsPattern } from './search.js';
import { keysetPage } from './page.js';

/**
 * Every column of MailboxRow, named: a prepared `SELECT *` fails with "cached plan
 * must not change result type" on every pooled connection once a migration adds a
 * column under a running daemon.
 */
const MAILBOX_COLUMNS = `id, address, domain, display_name, password_hash, credential_version, password_changed_at,
  password_expires_at, must_change, enabled, disabled_reason, quota_bytes, home, uid, gid, mail_location, created_at, updated_at,
  recovery_address, notice_language`;

export interface NewMailbox {
  address: string;
  domain: string;
  displayName: string | null;
  passwordHash: string;
  expiresAt: Date | null;
  quotaBytes: number | null;
  recoveryAddress?: string | null;
  noticeLanguage?: string | null;
}

export async function insertMailbox(db: Queryable, m: NewMailbox): Promise<MailboxRow | null> {
  const r = await db.query<MailboxRow>({
    name: 'mailbox-insert-v2',
    text: `INSERT INTO mailboxes (address, domain, display_name, password_hash, password_expires_at, quota_bytes, recovery_address, notice_language)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (address) DO NOTHING RETURNING ${MAILBOX_COLUMNS}`,
    values: [m.address, m.domain, m.displayName, m.passwordHash, m.expiresAt, m.quotaBytes, m.recoveryAddress ?? null, m.noticeLanguage ?? null],
  });
  return r.rows[0] ?? null;
}

/**
 * The hot-path read, on every verify: the current row and its domain's state,
 * still one query — the address's unique index, then the domains primary key —
 * and, when the password has an app password's shape, the app password it is
 * (the (mailbox_id, secret_hmac) unique index; `appPasswordHmac` null: none).
 */
/** The columns every login reads: the mailbox, its domain's state, whether app passwords are required. */
const AUTH_COLUMNS = `m.id, m.address, m.domain, m.password_hash, m.credential_version, m.enabled, m.disabled_reason, m.password_expires_at, m.must_change,
       m.quota_bytes, m.home, m.uid, m.gid, m.mail_location, d.enabled AS domain_enabled, d.disabled_reason AS domain_disabled_reason,
       (m.require_app_passwords OR d.require_app_passwords OR m.totp_enabled) AS require_app_passwords`;

/**
 * The row a login is decided on (every verify reads it: DESIGN §3), with the app
 * password whose HMAC is given, if the mailbox has one. Two statements, so a
 * password that cannot be an app password (no HMAC) does not pay for the
 * app_passwords probe: each index read is a measurable share of a login.
 */
export async function getAuthRow(db: Queryable, address: string, appPasswordHmac: Buffer | null = null): Promise<AuthRow | null> {
  const r =
    appPasswordHmac === null
      ? await db.query<AuthRow>({
          name: 'mailbox-get-auth-main',
          text: `SELECT ${AUTH_COLUMNS}, NULL::bigint AS app_password_id, NULL::text[] AS app_password_scopes, NULL::timestamptz AS app_password_expires_at
                 FROM mailboxes m JOIN domains d ON d.name = m.domain
                 WHERE m.address = $1`,
          values: [address],
        })
      : await db.query<AuthRow>({
          name: 'mailbox-get-auth-app',
          text: `SELECT ${AUTH_COLUMNS}, a.id AS app_password_id, a.scopes AS app_password_scopes, a.expires_at AS app_password_expires_at
                 FROM mailboxes m JOIN domains d ON d.name = m.domain
                 LEFT JOIN app_passwords a ON a.mailbox_id = m.id AND a.secret_hmac = $2
                 WHERE m.address = $1`,
          values: [address, appPasswordHmac],
        });
  return r.rows[0] ?? null;
}

export async function getMailbox(db: Queryable, address: string): Promise<MailboxRow | null> {
  const r = await db.query<MailboxRow>({ name: 'mailbox-get', text: `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE address = $1`, values: [address] });
  return r.rows[0] ?? null;
}

/** Row lock: concurrent rotations of one mailbox serialise here. */
export async function lockMailbox(db: Queryable, address: string): Promise<MailboxRow | null> {
  const r = await db.query<MailboxRow>({
    name: 'mailbox-lock',
    text: `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE address = $1 FOR UPDATE`,
    values: [address],
  });
  return r.rows[0] ?? null;
}

/**
 * One page of every mailbox, in (domain, address) order, after the row `after`
 * (keyset: the row comparison is an index condition on the (domain, address)
 * index, so a page costs the same at any depth; the first page starts after
 * ('', ''), before every row, so that one statement, whose generic plan is the
 * same index range scan, serves every page). It reads `limit + 1` rows to know
 * whether there is a next page: `next` is where it starts, null on the last.
 */
export async function listAllMailboxPage(db: Queryable, after: MailboxCursor | null, limit: number): Promise<{ rows: MailboxRow[]; next: MailboxCursor | null }> {
  const r = await db.query<MailboxRow>({
    name: 'mailbox-page-all',
    text: `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE (domain, address) > ($1, $2) ORDER BY domain, address LIMIT $3`,
    values: [after?.domain ?? '', after?.address ?? '', limit + 1],
  });
  return keysetPage(r.rows, limit, (last) => ({ domain: last.domain, address: last.address }));
}

/** Where a page of every mailbox ends: the next page starts after this row. */
export interface MailboxCursor {
  domain: string;
  address: string;
}

export async function setPassword(
  db: Queryable,
  id: string,
  hash: string,
  expiresAt: Date | null,
  mustChange: boolean,
): Promise<MailboxRow> {
  const r = await db.query<MailboxRow>({
    name: 'mailbox-set-password',
    text: `UPDATE mailboxes SET password_hash = $2, credential_version = credential_version + 1,
             password_changed_at = now(), password_expires_at = $3, must_change = $4, updated_at = now()
           WHERE id = $1 RETURNING ${MAILBOX_COLUMNS}`,
    values: [id, hash, expiresAt, mustChange],
  });
  return r.rows[0]!;
}

/** Same password, better parameters (rehash on login): no new credential version, no history. */
export async function upgradeHash(db: Queryable, id: string, oldHash: string, newHash: string): Promise<void> {
  await db.query({
    name: 'mailbox-upgrade-hash',
    text: 'UPDATE mailboxes SET password_hash = $3 WHERE id = $1 AND password_hash = $2',
    values: [id, oldHash, newHash],
  });
}

export interface MailboxPatch {
  enabled?: boolean;
  disabledReason?: string | null;
  displayName?: string | null;
  quotaBytes?: number | null;
  mustChange?: boolean;
  recoveryAddress?: string | null;
  noticeLanguage?: string | null;
}

export async function patchMailbox(db: Queryable, id: string, p: MailboxPatch): Promise<MailboxRow> {
  const r = await db.query<MailboxRow>({
    name: 'mailbox-patch-v2',
    text: `UPDATE mailboxes SET
             enabled = COALESCE($2, enabled),
             disabled_reason = CASE WHEN $3::boolean THEN $4 ELSE disabled_reason END,
             display_name = CASE WHEN $5::boolean THEN $6 ELSE display_name END,
             quota_bytes = CASE WHEN $7::boolean THEN $8::bigint ELSE quota_bytes END,
             must_change = COALESCE($9, must_change),
             recovery_address = CASE WHEN $10::boolean THEN $11 ELSE recovery_address END,
             notice_language = CASE WHEN $12::boolean THEN $13 ELSE notice_language END,
             updated_at = now()
           WHERE id = $1 RETURNING ${MAILBOX_COLUMNS}`,
    values: [
      id,
      p.enabled ?? null,
      p.disabledReason !== undefined,
      p.disabledReason ?? null,
      p.displayName !== undefined,
      p.displayName ?? null,
      p.quotaBytes !== undefined,
      p.quotaBytes ?? null,
      p.mustChange ?? null,
      p.recoveryAddress !== undefined,
      p.recoveryAddress ?? null,
      p.noticeLanguage !== undefined,
      p.noticeLanguage ?? null,
    ],
  });
  return r.rows[0]!;
}

export async function deleteMailbox(db: Queryable, id: string): Promise<void> {
  await db.query({ name: 'mailbox-delete', text: 'DELETE FROM mailboxes WHERE id = $1', values: [id] });
}

/**
 * One page of a domain's mailboxes in address order, after `after`, `limit + 1`
 * rows so the caller knows whether there is a next page. Keyset: the
 * (domain, address) index serves it at any depth, the cursor an index condition
 * in the generic plan too (`$3 IS NULL OR address > $3` was only a filter
 * there, so every page read the domain from its first address). `q`: a
 * case-insensitive substring of the address or the display name, filtered
 * within the domain's index range (no trigram index: a few ms at 10,000
 * mailboxes per domain).
 */
export async function listMailboxPage(db: Queryable, domain: string, q: string | null, after: string | null, limit: number): Promise<MailboxRow[]> {
  const r = await db.query<MailboxRow>({
    name: 'mailbox-page-v2',
    text: `SELECT ${MAILBOX_COLUMNS} FROM mailboxes
           WHERE domain = $1 AND address > COALESCE($3, '')
             AND ($2::text IS NULL OR address ILIKE $2 OR display_name ILIKE $2)
           ORDER BY address LIMIT $4`,
    values: [domain, containsPattern(q), after, limit + 1],
  });
  return r.rows;
}

/** How many mailboxes of the domain match `q` (all of them without one). */
export async function countMailboxPage(db: Queryable, domain: string, q: string | null): Promise<number> {
  const r = await db.query<{ n: number }>({
    name: 'mailbox-page-count',
    text: `SELECT count(*)::int AS n FROM mailboxes
           WHERE domain = $1 AND ($2::text IS NULL OR address ILIKE $2 OR display_name ILIKE $2)`,
    values: [domain, containsPattern(q)],
  });
  return r.rows[0]?.n ?? 0;
}

/** One login's lookup: the address and, if the password has an app password's shape, its HMAC. */
export interface AuthLookup {
  address: string;
  appPasswordHmac: Buffer | null;
}

/**
 * What getAuthRow reads, for several logins in one statement (the auth-row
 * reader's batches), each row numbered by its lookup's place in the list. A NULL
 * HMAC matches no app password: the index probe on NULL ends at once. The app
 * password is a LATERAL subquery behind OFFSET 0 so that both of its columns
 * enter the (mailbox_id, secret_hmac) index: as a plain join the planner read the
 * mailbox's app passwords by (mailbox_id, name) and compared the HMAC of each.
 */
export async function getAuthRows(db: Queryable, lookups: readonly AuthLookup[]): Promise<(AuthRow | null)[]> {
  const r = await db.query<AuthRow & { i: string }>({
    name: 'mailbox-get-auth-batch',
    text: `SELECT q.i, ${AUTH_COLUMNS}, a.id AS app_password_id, a.scopes AS app_password_scopes, a.expires_at AS app_password_expires_at
           FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS q(address, hmac, i)
           JOIN mailboxes m ON m.address = q.address
           JOIN domains d ON d.name = m.domain
           LEFT JOIN LATERAL (SELECT a.id, a.scopes, a.expires_at FROM app_passwords a WHERE a.mailbox_id = m.id AND a.secret_hmac = q.hmac OFFSET 0) a ON true`,
    values: [lookups.map((l) => l.address), lookups.map((l) => l.appPasswordHmac)],
  });
  const rows: (AuthRow | null)[] = lookups.map(() => null);
  // Each row keeps its `i`: copying ~20 fields per row to drop it would be work on every login.
  for (const row of r.rows) rows[Number(row.i) - 1] = row;
  return rows;
}
