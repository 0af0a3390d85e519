import type { Queryable } from '../pool.js';

export interface TotpRow {
  secret: string;
  enabled_at: Date | null;
  last_step: string;
}

export async function getTotp(db: Queryable, mailboxId: string): Promise<TotpRow | null> {
  const r = await db.query<TotpRow>({ name: 'totp-get', text: 'SELECT secret, enabled_at, last_step::text FROM mailbox_totp WHERE mailbox_id = $1', values: [mailboxId] });
  return r.rows[0] ?? null;
}

/** A new pending secret; an enabled one is never replaced here (the caller checks). */
export async function putPendingTotp(db: Queryable, mailboxId: string, secret: string): Promise<void> {
  await db.query({
    name: 'totp-put-pending',
    text: `INSERT INTO mailbox_totp (mailbox_id, secret) VALUES ($1, $2)
           ON CONFLICT (mailbox_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = 0, created_at = now() WHERE mailbox_totp.enabled_at IS NULL`,
    values: [mailboxId, secret],
  });
}

/**
 * Records an accepted step, only if later than the last one: false when the code
 * was used already (a replay, or a parallel attempt with the same code).
 */
export async function useTotpStep(db: Queryable, mailboxId: string, step: number): Promise<boolean> {
  const r = await db.query({ name: 'totp-use-step', text: 'UPDATE mailbox_totp SET last_step = $2 WHERE mailbox_id = $1 AND last_step < $2', values: [mailboxId, step] });
  return r.rowCount === 1;
}

export async function enableTotp(db: Queryable, mailboxId: string): Promise<boolean> {
  const r = await db.query({ name: 'totp-enable', text: 'UPDATE mailbox_totp SET enabled_at = now() WHERE mailbox_id = $1 AND enabled_at IS NULL', values: [mailboxId] });
  return r.rowCount === 1;
}

export async function deleteTotp(db: Queryable, mailboxId: string): Promise<void> {
  await db.query({ name: 'totp-delete', text: 'DELETE FROM mailbox_totp WHERE mailbox_id = $1', values: [mailboxId] });
  await db.query({ name: 'totp-recovery-delete', text: 'DELETE FROM totp_recovery_codes WHERE mailbox_id = $1', values: [mailboxId] });
}

export interface TotpStatusRow {
  enabled_at: Date | null;
  started_at: Date;
  recovery_left: number;
}

/** What an admin may see of a mailbox's second factor: never the secret nor the codes. Null: none, not even started. */
export async function getTotpStatus(db: Queryable, mailboxId: string): Promise<TotpStatusRow | null> {
  const r = await db.query<TotpStatusRow>({
    name: 'totp-status',
    text: `SELECT t.enabled_at, t.created_at AS started_at,
                  (SELECT count(*)::int FROM totp_recovery_codes r WHERE r.mailbox_id = t.mailbox_id AND r.used_at IS NULL) AS recovery_left
           FROM mailbox_totp t WHERE t.mailbox_id = $1`,
    values: [mailboxId],
  });
  return r.rows[0] ?? null;
}

/**
 * An admin's reset: the secret, every recovery code and any half-finished
 * sign-in go. Returns what was there (null: nothing, not even a started
 * enrolment), read by the same statements that delete it.
 */
export async function resetTotp(db: Queryable, mailboxId: string): Promise<{ enabled_at: Date | null; recovery_left: number } | null> {
  const r = await db.query<{ enabled_at: Date | null }>({ name: 'totp-reset', text: 'DELETE FROM mailbox_totp WHERE mailbox_id = $1 RETURNING enabled_at', values: [mailboxId] });
  const codes = await db.query<{ n: number }>({
    name: 'totp-reset-recovery',
    text: 'WITH gone AS (DELETE FROM totp_recovery_codes WHERE mailbox_id = $1 RETURNING used_at) SELECT count(*) FILTER (WHERE used_at IS NULL)::int AS n FROM gone',
    values: [mailboxId],
  });
  await db.query({ name: 'login-challenge-delete-mailbox', text: 'DELETE FROM console_login_challenges WHERE mailbox_id = $1', values: [mailboxId] });
  const row = r.rows[0];
  return row ? { enabled_at: row.enabled_at, recovery_left: codes.rows[0]!.n } : null;
}

export async function replaceRecoveryCodes(db: Queryable, mailboxId: string, digests: Buffer[]): Promise<void> {
  await db.query({ name: 'totp-recovery-delete', text: 'DELETE FROM totp_recovery_codes WHERE mailbox_id = $1', values: [mailboxId] });
  await db.query({
    name: 'totp-recovery-insert',
    text: 'INSERT INTO totp_recovery_codes (mailbox_id, code_sha256) SELECT $1, unnest($2::bytea[])',
    values: [mailboxId, digests],
  });
}

/** Marks an unused code used; false when unknown or used already (one statement: a code works once, even in parallel). */
export async function useRecoveryCode(db: Queryable, mailboxId: string, digest: Buffer): Promise<boolean> {
  const r = await db.query({
    name: 'totp-recovery-use',
    text: 'UPDATE totp_recovery_codes SET used_at = now() WHERE mailbox_id = $1 AND code_sha256 = $2 AND used_at IS NULL',
    values: [mailboxId, digest],
  });
  return r.rowCount === 1;
}

export async function countRecoveryCodes(db: Queryable, mailboxId: string): Promise<number> {
  const r = await db.query<{ n: number }>({ name: 'totp-recovery-count', text: 'SELECT count(*)::int AS n FROM totp_recovery_codes WHERE mailbox_id = $1 AND used_at IS NULL', values: [mailboxId] });
  return r.rows[0]!.n;
}

export async function insertLoginChallenge(db: Queryable, tokenSha256: Buffer, mailboxId: string, minutes: number): Promise<void> {
  // Expired ones go as new ones come: the table stays the size of the logins in progress.
  await db.query({ name: 'login-challenge-prune', text: 'DELETE FROM console_login_challenges WHERE expires_at < now()' });
  await db.query({
    name: 'login-challenge-insert',
    text: `INSERT INTO console_login_challenges (token_sha256, mailbox_id, expires_at) VALUES ($1, $2, now() + ($3::int * interval '1 minute'))`,
    values: [tokenSha256, mailboxId, minutes],
  });
}

export interface ChallengeRow {
  mailbox_id: string;
  address: string;
}

export async function findLoginChallenge(db: Queryable, tokenSha256: Buffer): Promise<ChallengeRow | null> {
  const r = await db.query<ChallengeRow>({
    name: 'login-challenge-find',
    text: `SELECT c.mailbox_id::text, m.address FROM console_login_challenges c JOIN mailboxes m ON m.id = c.mailbox_id
           JOIN domains d ON d.name = m.domain
           WHERE c.token_sha256 = $1 AND c.expires_at > now() AND m.enabled AND d.enabled`,
    values: [tokenSha256],
  });
  return r.rows[0] ?? null;
}

export async function deleteLoginChallenge(db: Queryable, tokenSha256: Buffer): Promise<void> {
  await db.query({ name: 'login-challenge-delete', text: 'DELETE FROM console_login_challenges WHERE token_sha256 = $1', values: [tokenSha256] });
}
