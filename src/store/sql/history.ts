import type { Queryable } from '../pool.js';

export async function appendHistory(db: Queryable, mailboxId: string, hash: string): Promise<void> {
  await db.query({
    name: 'history-append',
    text: 'INSERT INTO password_history (mailbox_id, password_hash) VALUES ($1, $2)',
    values: [mailboxId, hash],
  });
}

/** The last `count` hashes, newest first (the current one included). By id: set_at is the transaction's start, not its commit. */
export async function recentHashes(db: Queryable, mailboxId: string, count: number): Promise<string[]> {
  const r = await db.query<{ password_hash: string }>({
    name: 'history-recent',
    text: 'SELECT password_hash FROM password_history WHERE mailbox_id = $1 ORDER BY id DESC LIMIT $2',
    values: [mailboxId, count],
  });
  return r.rows.map((row) => row.password_hash);
}

/** Keeps only what the no-reuse rule can still need. */
export async function pruneHistory(db: Queryable, mailboxId: string, keep: number): Promise<void> {
  await db.query({
    name: 'history-prune',
    text: `DELETE FROM password_history WHERE mailbox_id = $1 AND id NOT IN (
             SELECT id FROM password_history WHERE mailbox_id = $1 ORDER BY id DESC LIMIT $2)`,
    values: [mailboxId, keep],
  });
}
