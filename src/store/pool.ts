import pg from 'pg';
import type { Config } from '../config/index.js';
import { MailpassdError, unavailable } from '../core/errors.js';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;
export type Queryable = pg.Pool | pg.PoolClient;

/** One pool per process; every query has a server-side timeout so a slow database cannot hang a login. */
export function createPool(url: string, db: Config['database']): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: db.pool_size,
    // node-postgres has one timer for a checkout, whether it waits for a free
    // connection or opens a new one: it gets the longer of the two settings.
    connectionTimeoutMillis: Math.max(db.pool_wait_ms, db.connect_timeout_ms),
    statement_timeout: db.statement_timeout_ms,
    query_timeout: db.statement_timeout_ms + 1000,
    idle_timeout_millis: 30_000,
    application_name: 'mailpassd',
    keepAlive: true,
  } as pg.PoolConfig);
  // A broken idle connection must not crash the daemon; the next checkout reconnects.
  pool.on('error', () => undefined);
  // Nor a broken checked-out one: pg-pool listens for a client's errors only while it is
  // idle, and node-postgres emits a dying connection's error on the client even when a
  // query is waiting on it - with no listener, an uncaught exception that killed the
  // daemon mid-transaction when its database failed over. The waiting query still fails
  // (and its caller releases the client as broken); this only keeps the process alive.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Error codes that mean "the answer cannot be known now", never "no". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4]|57014|58)/;

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof MailpassdError) return err.kind === 'unavailable';
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string') {
    if (UNAVAILABLE_SQLSTATE.test(e.code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(e.code)) return true;
  }
  return /timeout|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|Cannot use a pool after calling end/i.test(e?.message ?? '');
}

/** Maps driver failures onto a typed "database unavailable" error (exit 69 / HTTP 503). */
export function asUnavailable(err: unknown): unknown {
  if (isDatabaseUnavailable(err) && !(err instanceof MailpassdError)) {
    return unavailable('database_unavailable', `database unavailable: ${(err as Error).message.split('\n')[0]}`);
  }
  return err;
}

/** The only way to run a transaction: BEGIN … COMMIT on one client, ROLLBACK on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: Client) => Promise<T>): Promise<T> {
  let client: Client;
  try {
    client = await pool.connect();
  } catch (err) {
    throw asUnavailable(err);
  }
  // A connection whose ROLLBACK fails (dead, or stuck behind a query that timed
  // out on our side) must not go back to the pool: release(err) destroys it.
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      broken = rollbackErr;
    });
    throw asUnavailable(err);
  } finally {
    client.release(broken);
  }
}
