import type { Queryable } from '../pool.js';
import type { ConsoleSessionRow } from './rows.js';

export interface NewConsoleSession {
  id: string;
  tokenSha256: Buffer;
  mailboxId: string;
  csrfToken: string;
  absoluteHours: number;
  ip: string | null;
  userAgent: string | null;
}

export async function insertConsoleSession(db: Queryable, s: NewConsoleSession): Promise<ConsoleSessionRow | null> {
  const r = await db.query<ConsoleSessionRow>({
    name: 'console-session-insert',
    text: `WITH added AS (
             INSERT INTO console_sessions (id, token_sha256, mailbox_id, csrf_token, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $4, now() + ($5::int * interval '1 hour'), $6, $7)
             RETURNING id, mailbox_id, csrf_token, created_at, last_seen_at, expires_at)
           SELECT s.id, s.mailbox_id::text, m.address, m.display_name, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
                  true AS live, false AS stale_touch,
                  (SELECT COALESCE(json_agg(r.domain ORDER BY r.domain NULLS FIRST), '[]') FROM admin_roles r WHERE r.mailbox_id = s.mailbox_id) AS roles
           FROM added s JOIN mailboxes m ON m.id = s.mailbox_id`,
    values: [s.id, s.tokenSha256, s.mailboxId, s.csrfToken, s.absoluteHours, s.ip, s.userAgent],
  });
  return r.rows[0] ?? null;
}

/**
 * By digest, with whether it may still be used: both timeouts are read from the
 * current config (created_at as well as expires_at, so a shortened absolute
 * timeout applies to sessions already open), and the mailbox and its domain
 * must be enabled. One indexed query, the
 * mailbox's admin roles included (a revoked role counts at once); the caller
 * touches it when `stale_touch`.
 */
export async function findConsoleSession(db: Queryable, tokenSha256: Buffer, idleMinutes: number, absoluteHours: number): Promise<ConsoleSessionRow | null> {
  const r = await db.query<ConsoleSessionRow>({
    name: 'console-session-find',
    text: `SELECT s.id, s.mailbox_id::text, m.address, m.display_name, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
                  (s.last_seen_at > now() - ($2::int * interval '1 minute')
                    AND s.expires_at > now() AND s.created_at > now() - ($3::int * interval '1 hour')
                    AND m.enabled AND d.enabled) AS live,
                  s.last_seen_at < now() - interval '1 minute' AS stale_touch,
                  (SELECT COALESCE(json_agg(r.domain ORDER BY r.domain NULLS FIRST), '[]') FROM admin_roles r WHERE r.mailbox_id = s.mailbox_id) AS roles
           FROM console_sessions s JOIN mailboxes m ON m.id = s.mailbox_id JOIN domains d ON d.name = m.domain
           WHERE s.token_sha256 = $1`,
    values: [tokenSha256, idleMinutes, absoluteHours],
  });
  return r.rows[0] ?? null;
}

/** At most once a minute per session: a page load is a read, not a write. */
export async function touchConsoleSession(db: Queryable, id: string): Promise<Date | null> {
  const r = await db.query<{ last_seen_at: Date }>({
    name: 'console-session-touch',
    text: "UPDATE console_sessions SET last_seen_at = now() WHERE id = $1 AND last_seen_at < now() - interval '1 minute' RETURNING last_seen_at",
    values: [id],
  });
  return r.rows[0]?.last_seen_at ?? null;
}

export async function deleteConsoleSessionByToken(db: Queryable, tokenSha256: Buffer): Promise<boolean> {
  const r = await db.query({ name: 'console-session-delete', text: 'DELETE FROM console_sessions WHERE token_sha256 = $1', values: [tokenSha256] });
  return (r.rowCount ?? 0) > 0;
}

/** Ends a mailbox's sessions (a password change, a disable), all but `keepId` if given. Returns how many. */
export async function deleteMailboxConsoleSessions(db: Queryable, mailboxId: string, keepId: string | null): Promise<number> {
  const r = await db.query({
    name: 'console-session-delete-mailbox',
    text: 'DELETE FROM console_sessions WHERE mailbox_id = $1 AND ($2::text IS NULL OR id <> $2)',
    values: [mailboxId, keepId],
  });
  return r.rowCount ?? 0;
}

/** Ends the sessions of every mailbox of a domain (the domain is disabled). */
export async function deleteDomainConsoleSessions(db: Queryable, domain: string): Promise<number> {
  const r = await db.query({
    name: 'console-session-delete-domain',
    text: 'DELETE FROM console_sessions s USING mailboxes m WHERE m.id = s.mailbox_id AND m.domain = $1',
    values: [domain],
  });
  return r.rowCount ?? 0;
}

/** Sessions past either timeout; run by the daemon's prune loop. Returns how many were deleted. */
export async function pruneConsoleSessions(db: Queryable, idleMinutes: number, absoluteHours: number): Promise<number> {
  const r = await db.query({
    name: 'console-session-prune',
    text: `DELETE FROM console_sessions
           WHERE expires_at <= now() OR created_at <= now() - ($2::int * interval '1 hour')
              OR last_seen_at <= now() - ($1::int * interval '1 minute')`,
    values: [idleMinutes, absoluteHours],
  });
  return r.rowCount ?? 0;
}
