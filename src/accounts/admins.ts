import type { Actor, Context } from '../core/context.js';

/** A console role granted to a mailbox: every domain, or one. */
export type Role = { kind: 'global' } | { kind: 'domain'; domain: string };

export interface AdminGrant {
  address: string;
  role: Role;
  granted_at: string;
  granted_by: string;
}

export async function grantAdmin(_ctx: Context, _actor: Actor, _address: string, _role: Role): Promise<AdminGrant> {
  throw new Error('grantAdmin: not implemented yet');
}

/** Rows removed (0 when the mailbox held no such role). */
export async function revokeAdmin(_ctx: Context, _actor: Actor, _address: string, _role: Role | 'all'): Promise<number> {
  throw new Error('revokeAdmin: not implemented yet');
}

export async function listAdmins(_ctx: Context, _domain?: string): Promise<AdminGrant[]> {
  throw new Error('listAdmins: not implemented yet');
}

export async function rolesOf(_ctx: Context, _mailboxId: string): Promise<Role[]> {
  throw new Error('rolesOf: not implemented yet');
}

/** The domains a set of roles may reach: null = every domain. */
export function reachableDomains(roles: Role[]): string[] | null {
  if (roles.some((r) => r.kind === 'global')) return null;
  return [...new Set(roles.flatMap((r) => (r.kind === 'domain' ? [r.domain] : [])))].sort();
}
