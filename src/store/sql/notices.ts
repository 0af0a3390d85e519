import type { Queryable } from '../pool.js';
import type { NoticeJobRow } from './rows.js';

const JOB_COLUMNS = `id, kind, mailbox_id, recipient, language, details, credential_version, reminder_days, state, attempts,
  run_at, claim_token, claimed_by, claimed_at, last_error, created_at, finished_at`;

/** Single-key advisory lock of the reminder scan and the prune: one node at a time (see invalidations' PRUNE_LOCK). */
const SCAN_LOCK = 7411_000014;

/**
 * The password-changed notices of one change, in the change's transaction: one
 * job per recipient (the mailbox, and its recovery address if it has one), none
 * when the domain has notices off. Returns how many were queued.
 */
export async function enqueuePasswordChanged(db: Queryable, mailboxId: string, details: Record<string, unknown>): Promise<number> {
  const r = await db.query({
    name: 'notice-enqueue-changed',
    text: `INSERT INTO notice_jobs (kind, mailbox_id, recipient, language, details)
           SELECT 'password_changed', m.id, r.recipient, COALESCE(m.notice_language, d.notice_language, 'en'), $2::jsonb
           FROM mailboxes m JOIN domains d ON d.name = m.domain
           CROSS JOIN LATERAL unnest(ARRAY[m.address, m.recovery_address]) WITH ORDINALITY AS r(recipient, ord)
           WHERE m.id = $1 AND d.notices AND r.recipient IS NOT NULL AND (r.ord = 1 OR r.recipient <> m.address)
           ORDER BY r.ord`,
    values: [mailboxId, JSON.stringify(details)],
  });
  return r.rowCount ?? 0;
}

/**
 * Claims up to `limit` due jobs for this node: queued ones whose time has come,
 * and `sending` ones whose claim is older than `leaseSeconds` (their node died
 * between claim and mark). SKIP LOCKED: two nodes claiming at once get
 * different rows, never the same one.
 */
export async function claimNoticeJobs(db: Queryable, nodeId: string, limit: number, leaseSeconds: number): Promise<NoticeJobRow[]> {
  const r = await db.query<NoticeJobRow>({
    name: 'notice-claim',
    text: `UPDATE notice_jobs SET state = 'sending', claim_token = gen_random_uuid(), claimed_by = $1, claimed_at = now(), attempts = attempts + 1
           WHERE id IN (
             SELECT id FROM notice_jobs
             WHERE (state = 'queued' AND run_at <= now())
                OR (state = 'sending' AND claimed_at < now() - ($3::int * interval '1 second'))
             ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING ${JOB_COLUMNS}`,
    values: [nodeId, limit, leaseSeconds],
  });
  return r.rows;
}

/** A reminder is moot once its credential version is gone (changed, or the mailbox deleted) or it is disabled. */
export async function reminderStillDue(db: Queryable, job: NoticeJobRow): Promise<boolean> {
  const r = await db.query<{ due: boolean }>({
    name: 'notice-reminder-due',
    text: `SELECT EXISTS (SELECT 1 FROM mailboxes m JOIN domains d ON d.name = m.domain
             WHERE m.id = $1 AND m.credential_version = $2 AND m.enabled AND d.enabled AND d.notices) AS due`,
    values: [job.mailbox_id, job.credential_version],
  });
  return r.rows[0]!.due;
}

/** Only the claim that is still ours may finish the job: a job re-claimed after a lease expired belongs to the new claim. */
export async function finishNoticeJob(db: Queryable, id: string, claimToken: string, state: 'sent' | 'failed' | 'skipped', error: string | null): Promise<boolean> {
  const r = await db.query({
    name: 'notice-finish',
    text: `UPDATE notice_jobs SET state = $3, finished_at = now(), last_error = $4 WHERE id = $1 AND claim_token = $2 AND state = 'sending'`,
    values: [id, claimToken, state, error],
  });
  return (r.rowCount ?? 0) > 0;
}

export async function retryNoticeJob(db: Queryable, id: string, claimToken: string, delaySeconds: number, error: string): Promise<boolean> {
  const r = await db.query({
    name: 'notice-retry',
    text: `UPDATE notice_jobs SET state = 'queued', run_at = now() + ($3::int * interval '1 second'), last_error = $4, claim_token = NULL
           WHERE id = $1 AND claim_token = $2 AND state = 'sending'`,
    values: [id, claimToken, delaySeconds, error],
  });
  return (r.rowCount ?? 0) > 0;
}

/**
 * Queues the reminders that are due now, at most one per mailbox per scan: the
 * nearest threshold passed (a mailbox 2 days from expiry gets the 3-day
 * reminder, not the 14-day one too), and `0` on the day it expires. A password
 * that expired more than a day ago gets none (turning notices on must not mail
 * every long-expired mailbox). The unique index makes each (mailbox, credential
 * version, threshold, recipient) one job, whichever node scans and however often.
 * Runs under the scan lock; returns null when another node holds it.
 */
export async function enqueueDueReminders(db: Queryable, thresholds: number[]): Promise<number | null> {
  const r = await db.query<{ locked: boolean; queued: number }>({
    name: 'notice-enqueue-reminders',
    text: `WITH lock AS (SELECT pg_try_advisory_xact_lock($1) AS locked),
                due AS (
                  SELECT m.id, m.address, m.credential_version, m.password_expires_at,
                         COALESCE(m.notice_language, d.notice_language, 'en') AS language,
                         (SELECT min(t) FROM unnest($2::int[]) AS t WHERE m.password_expires_at - t * interval '1 day' <= now()) AS days
                  FROM mailboxes m JOIN domains d ON d.name = m.domain
                  WHERE (SELECT locked FROM lock) AND m.password_expires_at IS NOT NULL AND m.enabled AND d.enabled AND d.notices
                    AND m.password_expires_at > now() - interval '1 day'
                    AND m.password_expires_at - (SELECT max(t) FROM unnest($2::int[]) AS t) * interval '1 day' <= now()),
                added AS (
                  INSERT INTO notice_jobs (kind, mailbox_id, recipient, language, details, credential_version, reminder_days)
                  SELECT 'expiry_reminder', due.id, due.address, due.language,
                         jsonb_build_object('address', due.address, 'expires_at', due.password_expires_at), due.credential_version, due.days
                  FROM due WHERE due.days IS NOT NULL
                  ON CONFLICT (mailbox_id, credential_version, reminder_days, recipient) WHERE kind = 'expiry_reminder' DO NOTHING
                  RETURNING 1)
           SELECT (SELECT locked FROM lock) AS locked, (SELECT count(*) FROM added)::int AS queued`,
    values: [SCAN_LOCK, thresholds],
  });
  const row = r.rows[0]!;
  return row.locked ? row.queued : null;
}

/**
 * Deletes finished jobs older than `keepDays`. A reminder is kept while its
 * threshold could still come up again for the same credential version (its
 * unique key is what stops a second one), i.e. until that password has expired
 * more than a day ago or changed.
 */
export async function pruneNoticeJobs(db: Queryable, keepDays: number): Promise<number> {
  const r = await db.query({
    name: 'notice-prune',
    text: `DELETE FROM notice_jobs j
           WHERE j.state IN ('sent', 'failed', 'skipped') AND j.finished_at < now() - ($1::int * interval '1 day')
             AND (j.kind <> 'expiry_reminder' OR NOT EXISTS (
               SELECT 1 FROM mailboxes m WHERE m.id = j.mailbox_id AND m.credential_version = j.credential_version
                 AND m.password_expires_at > now() - interval '1 day'))`,
    values: [keepDays],
  });
  return r.rowCount ?? 0;
}

/** Queue depth by state, cluster-wide, for /metrics. */
export async function noticeJobCounts(db: Queryable): Promise<Array<{ state: string; count: number }>> {
  const r = await db.query<{ state: string; count: number }>({
    name: 'notice-counts',
    text: `SELECT state, count(*)::int AS count FROM notice_jobs WHERE state IN ('queued', 'sending', 'failed') GROUP BY state`,
  });
  return r.rows;
}

export async function getNoticeJobs(db: Queryable, mailboxId: string): Promise<NoticeJobRow[]> {
  const r = await db.query<NoticeJobRow>({
    name: 'notice-list-mailbox',
    text: `SELECT ${JOB_COLUMNS} FROM notice_jobs WHERE mailbox_id = $1 ORDER BY id`,
    values: [mailboxId],
  });
  return r.rows;
}
