import type { Queryable } from '../pool.js';
import type { InvalidationFailureRow, InvalidationResultRow, InvalidationRow } from './rows.js';

export const INVALIDATION_CHANNEL = 'mailpassd_invalidation';

/**
 * Appended in the same transaction as the change, as its LAST statement: the
 * insert takes the log's commit-order lock (migration 0002), held until commit.
 * NOTIFY is delivered on commit.
 */
export async function appendInvalidation(db: Queryable, address: string, reason: string, kick: boolean, appPasswordId: string | null = null): Promise<string> {
  const r = await db.query<{ id: string }>({
    name: 'invalidation-append-v2',
    text: 'INSERT INTO invalidations (address, reason, kick, app_password_id) VALUES ($1, $2, $3, $4) RETURNING id',
    values: [address, reason, kick, appPasswordId],
  });
  const id = r.rows[0]!.id;
  await db.query({ name: 'invalidation-notify', text: 'SELECT pg_notify($1, $2)', values: [INVALIDATION_CHANNEL, id] });
  return id;
}

/**
 * One invalidation per mailbox of a domain, set-based (a domain may hold many
 * mailboxes), under the same rule as appendInvalidation: the LAST statement of
 * the transaction. The commit-order trigger fires per row; its advisory lock is
 * taken by the first row and re-entered by the others, so the ids are
 * consecutive. One NOTIFY wakes the nodes for all of them. Returns how many were
 * appended and the last id (null for a domain without mailboxes).
 */
export async function appendDomainInvalidations(db: Queryable, domain: string, reason: string, kick: boolean): Promise<{ count: number; lastId: string | null }> {
  const r = await db.query<{ count: number; last_id: string | null }>({
    name: 'invalidation-append-domain',
    text: `WITH added AS (
             INSERT INTO invalidations (address, reason, kick)
             SELECT address, $2, $3 FROM mailboxes WHERE domain = $1 ORDER BY address
             RETURNING id)
           SELECT count(*)::int AS count, max(id)::text AS last_id FROM added`,
    values: [domain, reason, kick],
  });
  const { count, last_id: lastId } = r.rows[0]!;
  if (lastId !== null) await db.query({ name: 'invalidation-notify', text: 'SELECT pg_notify($1, $2)', values: [INVALIDATION_CHANNEL, lastId] });
  return { count, lastId };
}

export async function invalidationsAfter(db: Queryable, cursor: string, limit: number): Promise<InvalidationRow[]> {
  const r = await db.query<InvalidationRow>({
    name: 'invalidation-after-v3',
    text: 'SELECT id, address, reason, kick, app_password_id::text, created_at FROM invalidations WHERE id > $1 ORDER BY id LIMIT $2',
    values: [cursor, limit],
  });
  return r.rows;
}

/** Wakes the nodes for everything up to `lastId` (delivered on commit); for writers that append set-based. */
export async function notifyInvalidation(db: Queryable, lastId: string): Promise<void> {
  await db.query({ name: 'invalidation-notify', text: 'SELECT pg_notify($1, $2)', values: [INVALIDATION_CHANNEL, lastId] });
}

export async function latestInvalidationId(db: Queryable): Promise<string> {
  const r = await db.query<{ id: string }>({ name: 'invalidation-latest', text: 'SELECT COALESCE(max(id), 0)::text AS id FROM invalidations' });
  return r.rows[0]?.id ?? '0';
}

/** A node gives up on an invalidation: recorded in the same transaction that moves its cursor past it. */
export async function recordInvalidationFailure(db: Queryable, nodeId: string, invalidationId: string, attempts: number, error: string): Promise<void> {
  await db.query({
    name: 'invalidation-failure-record',
    text: `INSERT INTO invalidation_failures (node_id, invalidation_id, attempts, error) VALUES ($1, $2, $3, $4)
           ON CONFLICT (invalidation_id, node_id) DO UPDATE SET attempts = $3, error = $4, failed_at = now()`,
    values: [nodeId, invalidationId, attempts, error],
  });
}

/** The nodes that gave up on one invalidation (a rotation's per-node answer). */
export async function failuresOf(db: Queryable, invalidationId: string): Promise<InvalidationFailureRow[]> {
  const r = await db.query<InvalidationFailureRow>({
    name: 'invalidation-failures-of',
    text: 'SELECT node_id, invalidation_id, attempts, error, failed_at FROM invalidation_failures WHERE invalidation_id = $1 ORDER BY node_id',
    values: [invalidationId],
  });
  return r.rows;
}

/** Each node's record of applying one invalidation: ms from the invalidation's creation (database clock on both sides) and sessions kicked. */
export async function resultsOf(db: Queryable, invalidationId: string): Promise<InvalidationResultRow[]> {
  const r = await db.query<InvalidationResultRow>({
    name: 'invalidation-results-of',
    text: `SELECT r.node_id, GREATEST(0, round(extract(epoch FROM r.applied_at - i.created_at) * 1000))::int AS applied_ms, r.kicked
           FROM invalidation_results r JOIN invalidations i ON i.id = r.invalidation_id
           WHERE r.invalidation_id = $1 ORDER BY r.node_id`,
    values: [invalidationId],
  });
  return r.rows;
}
