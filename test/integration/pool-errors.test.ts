/**
 * A connection that dies while checked out of the pool (a database failover, a
 * backend terminated by an operator) fails the work on it with "unavailable" and
 * nothing else: no uncaught error, the pool serves the next caller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createPool, withTransaction, type Pool } from '../../src/store/pool.js';
import { createTestDatabase } from '../helpers/postgres.js';
import type { Database } from '../../harness/postgres.js';

const DB = { pool_size: 4, pool_wait_ms: 2_000, connect_timeout_ms: 2_000, statement_timeout_ms: 5_000 } as Parameters<typeof createPool>[1];

describe('a checked-out connection that dies', () => {
  let db: Database;
  let pool: Pool;
  let admin: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, DB);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await pool.end();
    await db.drop();
  });

  it('between two statements of a transaction: the transaction fails as unavailable, the process lives on, the pool recovers', async () => {
    const failed = withTransaction(pool, async (tx) => {
      const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // The socket's end arrives while this client is checked out and idle between statements.
      await new Promise((r) => setTimeout(r, 200));
      await tx.query('SELECT 1');
    });
    await expect(failed).rejects.toMatchObject({ code: 'database_unavailable' });
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });

  it('while a statement runs on it: that statement fails as unavailable', async () => {
    const failed = withTransaction(pool, async (tx) => {
      const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const long = tx.query('SELECT pg_sleep(5)');
      // Its rejection may come before the await below: handled from the start, still awaited.
      long.catch(() => undefined);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await long;
    });
    await expect(failed).rejects.toMatchObject({ code: 'database_unavailable' });
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });
});
