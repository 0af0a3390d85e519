import type { Queryable } from '../pool.js';
import type { AppPasswordRow } from './rows.js';

const APP_PASSWORD_COLUMNS = 'id, mailbox_id, name, scopes, expires_at, created_at, last_used_at, last_used_ip, last_used_service';

/** The cluster-wide HMAC key: the first caller creates it, every later one (any node) reads the same. */
export async function ensureClusterKey(db: Queryable, name: string, candidate: Buffer): Promise<Buffer> {
  const r = await db.query<{ key: Buffer }>({
    name: 'cluster-key-ensure',
    text: `WITH added AS (INSERT INTO cluster_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING key)
           SELECT key FROM added UNION ALL SELECT key FROM cluster_keys WHERE name = $1 LIMIT 1`,
    values: [name, candidate],
  });
  return r.rows[0]!.key;
}

export interface NewAppPassword {
  mailboxId: string;
  name: string;
  secretHmac: Buffer;
  scopes: string[];
  expiresAt: Date | null;
}

/** Null when the mailbox already has an app password of that name. */
export async function insertAppPassword(db: Queryable, p: NewAppPassword): Promise<AppPasswordRow | null> {
  const r = await db.query<AppPasswordRow>({
    name: 'app-password-insert',
    text: `INSERT INTO app_passwords (mailbox_id, name, secret_hmac, scopes, expires_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (mailbox_id, name) DO NOTHING RETURNING ${APP_PASSWORD_COLUMNS}`,
    values: [p.mailboxId, p.name, p.secretHmac, p.scopes, p.expiresAt],
  });
  return r.rows[0] ?? null;
}

export async function listAppPasswords(db: Queryable, mailboxId: string): Promise<AppPasswordRow[]> {
  const r = await db.query<AppPasswordRow>({
    name: 'app-password-list',
    text: `SELECT ${APP_PASSWORD_COLUMNS} FROM app_passwords WHERE mailbox_id = $1 ORDER BY name`,
    values: [mailboxId],
  });
  return r.rows;
}

export async function deleteAppPassword(db: Queryable, mailboxId: string, name: string): Promise<AppPasswordRow | null> {
  const r = await db.query<AppPasswordRow>({
    name: 'app-password-delete',
    text: `DELETE FROM app_passwords WHERE mailbox_id = $1 AND name = $2 RETURNING ${APP_PASSWORD_COLUMNS}`,
    values: [mailboxId, name],
  });
  return r.rows[0] ?? null;
}

/** Part of a main-password rotation with revoke_app_passwords: same transaction. */
export async function deleteAllAppPasswords(db: Queryable, mailboxId: string): Promise<number> {
  const r = await db.query({ name: 'app-password-delete-all', text: 'DELETE FROM app_passwords WHERE mailbox_id = $1', values: [mailboxId] });
  return r.rowCount ?? 0;
}

export interface LastUse {
  id: string;
  at: Date;
  ip: string | null;
  service: string;
}

/**
 * Coalesced last-used times, one statement for many app passwords. Never moves
 * a time backwards (two nodes flushing out of order).
 */
export async function recordLastUse(db: Queryable, uses: LastUse[]): Promise<void> {
  if (uses.length === 0) return;
  await db.query({
    name: 'app-password-last-use',
    text: `UPDATE app_passwords a SET last_used_at = u.at, last_used_ip = u.ip, last_used_service = u.service
           FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[]) AS u(id, at, ip, service)
           WHERE a.id = u.id AND (a.last_used_at IS NULL OR a.last_used_at < u.at)`,
    values: [uses.map((u) => u.id), uses.map((u) => u.at), uses.map((u) => u.ip), uses.map((u) => u.service)],
  });
}

/** Per node: whether it kicks a revoked app password's sessions by field or the whole mailbox's. */
export async function setNodeAppPasswordKick(db: Queryable, nodeId: string, mode: 'app_password' | 'mailbox'): Promise<void> {
  await db.query({ name: 'node-set-app-password-kick', text: 'UPDATE nodes SET app_password_kick = $2 WHERE node_id = $1', values: [nodeId, mode] });
}

/** Per node: how it kicks, and 'none' for a node without a Dovecot (doveadm = none) that kicks nothing. */
export async function nodeAppPasswordKicks(db: Queryable): Promise<Map<string, string>> {
  const r = await db.query<{ node_id: string; kick: string }>({
    name: 'node-app-password-kicks',
    text: "SELECT node_id, CASE WHEN doveadm = 'none' THEN 'none' ELSE app_password_kick END AS kick FROM nodes",
  });
  return new Map(r.rows.map((n) => [n.node_id, n.kick]));
}

/** Require app passwords for mail clients: a mailbox's or a domain's flag. */
export async function setMailboxRequireAppPasswords(db: Queryable, mailboxId: string, on: boolean): Promise<void> {
  await db.query({ name: 'mailbox-set-require-app-passwords', text: 'UPDATE mailboxes SET require_app_passwords = $2, updated_at = now() WHERE id = $1', values: [mailboxId, on] });
}

export async function setDomainRequireAppPasswords(db: Queryable, domain: string, on: boolean): Promise<boolean> {
  const r = await db.query({ name: 'domain-set-require-app-passwords', text: 'UPDATE domains SET require_app_passwords = $2 WHERE name = $1', values: [domain, on] });
  return (r.rowCount ?? 0) > 0;
}

/** Arbitrary constant (next to retention's and the notice scan's): one expiry sweeper at a time, across all nodes. */
const EXPIRY_SWEEP_LOCK = 7411_000015;

/** In a transaction: false when another daemon is sweeping right now. */
export async function tryExpirySweepLock(db: Queryable): Promise<boolean> {
  const r = await db.query<{ locked: boolean }>({ name: 'app-password-expiry-lock', text: 'SELECT pg_try_advisory_xact_lock($1) AS locked', values: [EXPIRY_SWEEP_LOCK] });
  return r.rows[0]!.locked;
}

/**
 * One batch of app passwords past their expiry and not swept yet, soonest
 * first: each is stamped `expiry_invalidated_at` and gets an invalidation
 * naming it (reason `app_password_expired`, kick), as a revocation writes.
 * The invalidations are inserted by this statement, so it must be the LAST of
 * its transaction (appendInvalidation's rule: the log's commit-order lock is
 * held until commit); the caller NOTIFYs with the returned last id. The
 * stamp and the insert are one statement: an expiry is swept exactly once.
 */
export async function sweepExpiredBatch(db: Queryable, limit: number): Promise<{ count: number; lastId: string | null }> {
  const r = await db.query<{ count: number; last_id: string | null }>({
    name: 'app-password-expiry-sweep',
    text: `WITH due AS (
             UPDATE app_passwords a SET expiry_invalidated_at = now()
             FROM mailboxes m
             WHERE m.id = a.mailbox_id AND a.expiry_invalidated_at IS NULL AND a.id = ANY (ARRAY(
               SELECT id FROM app_passwords
               WHERE expires_at IS NOT NULL AND expiry_invalidated_at IS NULL AND expires_at <= now()
               ORDER BY expires_at LIMIT $1))
             RETURNING a.id, m.address),
           added AS (
             INSERT INTO invalidations (address, reason, kick, app_password_id)
             SELECT address, 'app_password_expired', true, id FROM due ORDER BY address, id
             RETURNING id)
           SELECT count(*)::int AS count, max(id)::text AS last_id FROM added`,
    values: [limit],
  });
  const { count, last_id: lastId } = r.rows[0]!;
  return { count, lastId };
}
