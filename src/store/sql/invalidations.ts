import type { Queryable } from '../pool.js';
import type { InvalidationRow } from './rows.js';

export const INVALIDATION_CHANNEL = 'mailpassd_invalidation';

/**
 * Appended in the same transaction as the change, as its LAST statement: the
 * insert takes the log's commit-order lock (migration 0002), held until commit.
 * NOTIFY is delivered on commit.
 */
export async function appendInvalidation(db: Queryable, address: string, reason: string, kick: boolean): Promise<string> {
  const r = await db.query<{ id: string }>({
    name: 'invalidation-append',
    text: 'INSERT INTO invalidations (address, reason, kick) VALUES ($1, $2, $3) RETURNING id',
    values: [address, reason, kick],
  });
  const id = r.rows[0]!.id;
  await db.query({ name: 'invalidation-notify', text: 'SELECT pg_notify($1, $2)', values: [INVALIDATION_CHANNEL, id] });
  return id;
}

export async function invalidationsAfter(db: Queryable, cursor: string, limit: number): Promise<InvalidationRow[]> {
  const r = await db.query<InvalidationRow>({
    name: 'invalidation-after-v2',
    text: 'SELECT id, address, reason, kick, created_at FROM invalidations WHERE id > $1 ORDER BY id LIMIT $2',
    values: [cursor, limit],
  });
  return r.rows;
}

export async function latestInvalidationId(db: Queryable): Promise<string> {
  const r = await db.query<{ id: string }>({ name: 'invalidation-latest', text: 'SELECT COALESCE(max(id), 0)::text AS id FROM invalidations' });
  return r.rows[0]?.id ?? '0';
}
