import type { Actor, Context } from '../core/context.js';
import { normalizeDomain } from '../core/address.js';
import { conflict, notFound, usage } from '../core/errors.js';
import { APP_PASSWORD_SCOPES, appPasswordHmac, canonicalAppPassword, generateAppPassword, parseScopes } from '../auth/app-password.js';
import { appPasswordKey } from '../auth/app-password-store.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { insertAppPassword, listAppPasswords as listRows, setDomainRequireAppPasswords, setMailboxRequireAppPasswords } from '../store/sql/app-passwords.js';
import { appendDomainInvalidations, appendInvalidation } from '../store/sql/invalidations.js';
import type { AppPasswordRow } from '../store/sql/rows.js';
import { findMailbox } from './mailboxes.js';

export interface AppPasswordView {
  name: string;
  scopes: string[];
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  last_used_service: string | null;
}

export function toAppPasswordView(r: AppPasswordRow): AppPasswordView {
  return {
    name: r.name,
    scopes: r.scopes,
    expires_at: r.expires_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
    last_used_at: r.last_used_at?.toISOString() ?? null,
    last_used_ip: r.last_used_ip,
    last_used_service: r.last_used_service,
  };
}

/** A device's label: printable, one line, short (it is shown in lists and audit). */
export function checkAppPasswordName(name: string): string {
  const n = name.trim();
  if (n === '' || n.length > 64 || /[\u0000-\u001f\u007f/]/.test(n)) {
    throw usage('invalid_app_password_name', 'app password name: 1-64 printable characters, no "/"');
  }
  return n;
}

export interface NewAppPasswordInput {
  address: string;
  name: string;
  /** Default: every mail service. */
  scopes?: string[] | string | undefined;
  /** Lifetime in milliseconds; null: never expires. */
  lifetimeMs?: number | null;
}

/** Creates one; the password is returned here once and never stored (only its HMAC is). */
export async function createAppPassword(ctx: Context, actor: Actor, input: NewAppPasswordInput): Promise<{ address: string; password: string; appPassword: AppPasswordView }> {
  const name = checkAppPasswordName(input.name);
  const scopes = input.scopes === undefined ? [...APP_PASSWORD_SCOPES] : parseScopes(input.scopes);
  if (scopes === null) throw usage('invalid_app_password_scope', `scopes: a comma-separated list of ${APP_PASSWORD_SCOPES.join(', ')}`);
  const lifetime = input.lifetimeMs ?? null;
  if (lifetime !== null && (!Number.isFinite(lifetime) || lifetime <= 0)) throw usage('invalid_app_password_expiry', 'expiry: a positive duration, e.g. 90d');
  const mailbox = await findMailbox(ctx, input.address);
  const key = await appPasswordKey(ctx.pool);
  const password = generateAppPassword();
  const row = await withTransaction(ctx.pool, async (tx) => {
    const added = await insertAppPassword(tx, {
      mailboxId: mailbox.id,
      name,
      secretHmac: appPasswordHmac(key, canonicalAppPassword(password)!),
      scopes,
      expiresAt: lifetime === null ? null : new Date(Date.now() + lifetime),
    });
    if (!added) throw conflict('app_password_exists', `${mailbox.address} already has an app password named ${JSON.stringify(name)}`);
    await appendAudit(tx, { ...actor, action: 'app_password.create', target: mailbox.address, details: { name, scopes, expires_at: added.expires_at?.toISOString() ?? null } });
    return added;
  });
  return { address: mailbox.address, password, appPassword: toAppPasswordView(row) };
}

export async function listAppPasswords(ctx: Context, address: string): Promise<{ address: string; appPasswords: AppPasswordView[] }> {
  const mailbox = await findMailbox(ctx, address);
  return { address: mailbox.address, appPasswords: (await listRows(ctx.pool, mailbox.id)).map(toAppPasswordView) };
}

/**
 * Require app passwords for mail clients, for a mailbox or a whole domain (or
 * no longer). Turning it on makes the main password a mismatch for mail
 * services, but a Dovecot that cached it would keep accepting it until
 * auth_cache_ttl: so, in the same transaction, every node is told to flush the
 * mailbox's (or each of the domain's mailboxes') cache entry; no kick, open
 * sessions stay. Turning it off makes Dovecot accept more: nothing to flush
 * (refusals are not cached, auth_cache_negative_ttl = 0).
 */
export async function requireAppPasswords(ctx: Context, actor: Actor, target: { address: string } | { domain: string }, required: boolean): Promise<void> {
  if ('address' in target) {
    const mailbox = await findMailbox(ctx, target.address);
    await withTransaction(ctx.pool, async (tx) => {
      await setMailboxRequireAppPasswords(tx, mailbox.id, required);
      await appendAudit(tx, { ...actor, action: 'mailbox.require_app_passwords', target: mailbox.address, details: { required } });
      if (required) await appendInvalidation(tx, mailbox.address, 'app_passwords_required', false);
    });
    return;
  }
  const domain = normalizeDomain(target.domain);
  await withTransaction(ctx.pool, async (tx) => {
    if (!(await setDomainRequireAppPasswords(tx, domain, required))) throw notFound('domain_not_found', `domain ${domain} does not exist`);
    await appendAudit(tx, { ...actor, action: 'domain.require_app_passwords', target: domain, details: { required } });
    if (required) await appendDomainInvalidations(tx, domain, 'app_passwords_required', false);
  });
}
