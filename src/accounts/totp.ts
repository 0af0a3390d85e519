import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Actor, Context } from '../core/context.js';
import { notFound } from '../core/errors.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { deleteMailboxConsoleSessions } from '../store/sql/console-sessions.js';
import { appendInvalidation } from '../store/sql/invalidations.js';
import * as sql from '../store/sql/totp.js';
import { findMailbox } from './mailboxes.js';

/**
 * The console's second factor (issue 13): RFC 6238 codes (SHA-1, 6 digits, 30 s,
 * what every authenticator app speaks), one step either side for clock drift,
 * each step accepted once. Recovery codes are random, single-use, stored as
 * SHA-256. With TOTP on, the mailbox's main password no longer opens mail
 * services (getAuthRow counts it as "app passwords required").
 */
const ISSUER = 'mailpassd';
const PERIOD = 30;
const RECOVERY_CODES = 10;

const totpOf = (address: string, secret: string) => new TOTP({ issuer: ISSUER, label: address, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secret) });
const digestOf = (code: string) => createHash('sha256').update(normalizeRecovery(code)).digest();
/** Recovery codes are typed by hand: case, spaces and dashes do not matter. */
const normalizeRecovery = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

export interface TotpState {
  enabled: boolean;
  /** Enrolment started, not confirmed yet. */
  pending: boolean;
  recoveryLeft: number;
}

export async function totpState(ctx: Context, mailboxId: string): Promise<TotpState> {
  const row = await sql.getTotp(ctx.pool, mailboxId);
  if (!row) return { enabled: false, pending: false, recoveryLeft: 0 };
  const enabled = row.enabled_at !== null;
  return { enabled, pending: !enabled, recoveryLeft: enabled ? await sql.countRecoveryCodes(ctx.pool, mailboxId) : 0 };
}

export async function totpEnabled(ctx: Context, mailboxId: string): Promise<boolean> {
  return (await sql.getTotp(ctx.pool, mailboxId))?.enabled_at != null;
}

/** Starts (or restarts) enrolment: a new secret, inactive until confirmed. Null when TOTP is on already. */
export async function startEnrolment(ctx: Context, mailboxId: string, address: string): Promise<{ secret: string; uri: string } | null> {
  const existing = await sql.getTotp(ctx.pool, mailboxId);
  if (existing?.enabled_at) return null;
  const secret = existing?.secret ?? new Secret({ size: 20 }).base32;
  if (!existing) await sql.putPendingTotp(ctx.pool, mailboxId, secret);
  return { secret, uri: totpOf(address, secret).toString() };
}

/** The step a code matches (within ±1 step), or null. */
function matchStep(address: string, secret: string, code: string): number | null {
  const c = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(c)) return null;
  const delta = totpOf(address, secret).validate({ token: c, window: 1 });
  return delta === null ? null : Math.floor(Date.now() / 1000 / PERIOD) + delta;
}

/** Confirms enrolment with a code from the app; on success TOTP is on and the recovery codes are returned (once). */
export async function confirmEnrolment(ctx: Context, actor: Actor, mailboxId: string, address: string, code: string): Promise<string[] | null> {
  const row = await sql.getTotp(ctx.pool, mailboxId);
  if (!row || row.enabled_at) return null;
  const step = matchStep(address, row.secret, code);
  if (step === null) return null;
  const codes = Array.from({ length: RECOVERY_CODES }, () => randomBytes(5).toString('hex').replace(/^(.{5})/, '$1-'));
  const ok = await withTransaction(ctx.pool, async (tx) => {
    if (!(await sql.useTotpStep(tx, mailboxId, step))) return false;
    if (!(await sql.enableTotp(tx, mailboxId))) return false;
    await sql.replaceRecoveryCodes(tx, mailboxId, codes.map(digestOf));
    await appendAudit(tx, { ...actor, action: 'console.totp_enabled', target: address, details: { recovery_codes: RECOVERY_CODES } });
    // From now on the main password is a mismatch for mail services (getAuthRow), but a
    // Dovecot that cached it would keep accepting it until auth_cache_ttl: every node
    // flushes its cache for the user. No kick: open sessions stay, as after
    // `app-password require` (ending them is "Close sessions" or a rotation).
    await appendInvalidation(tx, address, 'totp_enabled', false);
    return true;
  });
  return ok ? codes : null;
}

export type FactorResult = { ok: true; factor: 'totp' | 'recovery_code' } | { ok: false };

/** A sign-in's second step (or disabling): a current code, each step once, or an unused recovery code. */
export async function checkSecondFactor(ctx: Context, mailboxId: string, address: string, input: string, opts: { recovery: boolean }): Promise<FactorResult> {
  const row = await sql.getTotp(ctx.pool, mailboxId);
  if (!row?.enabled_at) return { ok: false };
  const step = matchStep(address, row.secret, input);
  if (step !== null) return (await sql.useTotpStep(ctx.pool, mailboxId, step)) ? { ok: true, factor: 'totp' } : { ok: false };
  if (opts.recovery && /^[0-9a-f]{10}$/.test(normalizeRecovery(input)) && (await sql.useRecoveryCode(ctx.pool, mailboxId, digestOf(input)))) return { ok: true, factor: 'recovery_code' };
  return { ok: false };
}

export async function disableTotp(ctx: Context, actor: Actor, mailboxId: string, address: string): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    await sql.deleteTotp(tx, mailboxId);
    await appendAudit(tx, { ...actor, action: 'console.totp_disabled', target: address, details: {} });
  });
}

export interface TotpStatus {
  address: string;
  /** TOTP is on: the console asks for a code, mail clients need app passwords. */
  enabled: boolean;
  /** Enrolment started (a secret shown), not confirmed with a code yet. */
  pending: boolean;
  enabled_at: string | null;
  recovery_codes_left: number;
}

/** For admins (CLI, API): whether a mailbox has a second factor, since when, how many recovery codes are unused. */
export async function totpStatus(ctx: Context, address: string): Promise<TotpStatus> {
  const mailbox = await findMailbox(ctx, address);
  const row = await sql.getTotpStatus(ctx.pool, mailbox.id);
  const enabled = row?.enabled_at != null;
  return {
    address: mailbox.address,
    enabled,
    pending: row !== null && !enabled,
    enabled_at: row?.enabled_at?.toISOString() ?? null,
    recovery_codes_left: enabled ? row!.recovery_left : 0,
  };
}

export interface TotpReset {
  address: string;
  /** Whether TOTP was on (false: only an unconfirmed enrolment was removed). */
  was_enabled: boolean;
  recovery_codes_removed: number;
  console_sessions_ended: number;
}

/**
 * An admin lets back in a user who lost the phone and the recovery codes: the
 * secret, the recovery codes and any half-finished sign-in go, and so do the
 * mailbox's console sessions (a thief holding one is out), in one
 * transaction, audited without secrets. The password alone signs in again;
 * with console.require_totp_for_admins an admin is sent to enrol again.
 *
 * No invalidation: the reset makes Dovecot accept more (the main password
 * again for mail clients, unless app passwords are required otherwise), never
 * less, and the shipped configs cache no refusals (auth_cache_negative_ttl = 0).
 *
 * Nothing to reset (no TOTP, not even a started enrolment) is `totp_not_enrolled`
 * (not found: exit 1, HTTP 404), as revoking an unknown app password is.
 */
export async function resetTotp(ctx: Context, actor: Actor, address: string): Promise<TotpReset> {
  const mailbox = await findMailbox(ctx, address);
  return withTransaction(ctx.pool, async (tx) => {
    const gone = await sql.resetTotp(tx, mailbox.id);
    if (!gone) throw notFound('totp_not_enrolled', `${mailbox.address} has no second factor (TOTP): nothing to reset`);
    const sessions = await deleteMailboxConsoleSessions(tx, mailbox.id, null);
    const details = { was_enabled: gone.enabled_at !== null, recovery_codes_removed: gone.recovery_left, console_sessions_ended: sessions };
    await appendAudit(tx, { ...actor, action: 'totp.reset', target: mailbox.address, details });
    return { address: mailbox.address, ...details };
  });
}

/** The half-signed-in state, for LOGIN_CHALLENGE_MINUTES: its cookie names only this row. */
export const LOGIN_CHALLENGE_MINUTES = 5;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const tokenDigest = (token: string) => createHash('sha256').update(token).digest();

export async function createLoginChallenge(ctx: Context, mailboxId: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await sql.insertLoginChallenge(ctx.pool, tokenDigest(token), mailboxId, LOGIN_CHALLENGE_MINUTES);
  return token;
}

export async function findLoginChallenge(ctx: Context, token: string): Promise<{ mailboxId: string; address: string } | null> {
  if (!TOKEN.test(token)) return null;
  const row = await sql.findLoginChallenge(ctx.pool, tokenDigest(token));
  return row && { mailboxId: row.mailbox_id, address: row.address };
}

export async function endLoginChallenge(ctx: Context, token: string): Promise<void> {
  if (TOKEN.test(token)) await sql.deleteLoginChallenge(ctx.pool, tokenDigest(token));
}
