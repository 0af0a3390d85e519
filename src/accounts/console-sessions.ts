import type { Context } from '../core/context.js';
import type { Role } from './admins.js';

export interface ConsoleSession {
  id: string;
  mailboxId: string;
  address: string;
  displayName: string | null;
  csrfToken: string;
  roles: Role[];
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export async function createSession(
  _ctx: Context,
  _mailboxId: string,
  _meta: { ip: string | null; userAgent: string | null },
): Promise<{ token: string; session: ConsoleSession }> {
  throw new Error('createSession: not implemented yet');
}

/** null when unknown, idle longer than console.idle_timeout_minutes, past console.absolute_timeout_hours, or the mailbox/domain is disabled or gone. Touches last_seen at most once a minute. */
export async function findSession(_ctx: Context, _token: string): Promise<ConsoleSession | null> {
  throw new Error('findSession: not implemented yet');
}

export async function endSession(_ctx: Context, _token: string): Promise<void> {
  throw new Error('endSession: not implemented yet');
}
