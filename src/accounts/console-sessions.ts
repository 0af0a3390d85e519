import { createHash, randomBytes } from 'node:crypto';
import type { Context } from '../core/context.js';
import * as sql from '../store/sql/console-sessions.js';
import type { ConsoleSessionRow } from '../store/sql/rows.js';
import { roleOf, type Role } from './admins.js';

/**
 * Console sessions (DESIGN §8): server-side, in PostgreSQL. The cookie carries
 * 32 random bytes (base64url); only their SHA-256 is stored, so a copy of the
 * table opens nothing. `id` is a separate public name, for logs and for
 * RotateInput.keepConsoleSession. Every password change of the mailbox ends its
 * sessions (rotate.ts), a disable or delete too; the timeouts are read from the
 * config at each use.
 */
export interface ConsoleSession {
  id: string;
  mailboxId: string;
  address: string;
  displayName: string | null;
  /** Per session, compared (in constant time) with the X-CSRF-Token header / form field by the console. */
  csrfToken: string;
  /** Read with the session at each findSession: a revoked role counts at once. */
  roles: Role[];
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

/** The cookie value's form: 32 bytes base64url, nothing else is looked up. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const digest = (token: string) => createHash('sha256').update(token).digest();

function toSession(row: ConsoleSessionRow): ConsoleSession {
  return {
    id: row.id,
    mailboxId: row.mailbox_id,
    address: row.address,
    displayName: row.display_name,
    csrfToken: row.csrf_token,
    roles: row.roles.map(roleOf),
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

/** The caller has checked the mailbox's password (and that it and its domain are enabled). */
export async function createSession(
  ctx: Context,
  mailboxId: string,
  meta: { ip: string | null; userAgent: string | null },
): Promise<{ token: string; session: ConsoleSession }> {
  const token = randomBytes(32).toString('base64url');
  const row = await sql.insertConsoleSession(ctx.pool, {
    id: randomBytes(12).toString('base64url'),
    tokenSha256: digest(token),
    mailboxId,
    csrfToken: randomBytes(32).toString('base64url'),
    absoluteHours: ctx.config.console.absolute_timeout_hours,
    ip: meta.ip,
    // Browsers send a few hundred bytes; a hostile client is not given a column to fill.
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
  });
  if (!row) throw new Error(`createSession: mailbox ${mailboxId} does not exist`);
  return { token, session: toSession(row) };
}

/** null when unknown, idle longer than console.idle_timeout_minutes, past console.absolute_timeout_hours, or the mailbox/domain is disabled or gone. Touches last_seen at most once a minute. */
export async function findSession(ctx: Context, token: string): Promise<ConsoleSession | null> {
  if (!TOKEN.test(token)) return null;
  const { idle_timeout_minutes, absolute_timeout_hours } = ctx.config.console;
  const row = await sql.findConsoleSession(ctx.pool, digest(token), idle_timeout_minutes, absolute_timeout_hours);
  if (!row || !row.live) return null;
  if (row.stale_touch) row.last_seen_at = (await sql.touchConsoleSession(ctx.pool, row.id)) ?? row.last_seen_at;
  return toSession(row);
}

/** Sign-out: the session is deleted (an unknown token is not an error). */
export async function endSession(ctx: Context, token: string): Promise<void> {
  if (!TOKEN.test(token)) return;
  await sql.deleteConsoleSessionByToken(ctx.pool, digest(token));
}
