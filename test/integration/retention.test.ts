import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeContext, type TestContext } from '../helpers/context.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { pruneOnce } from '../../src/store/retention.js';

/**
 * Retention on a real PostgreSQL: old audit and invalidation log rows are
 * pruned in batches by one daemon at a time; rows inside the retention window
 * stay append-only, enforced by the database whatever a session declares.
 */
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let client: pg.Client;
const BATCH = 100;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url, { MAILPASSD_RETENTION_AUDIT_DAYS: '30', MAILPASSD_RETENTION_BATCH_ROWS: String(BATCH), MAILPASSD_ROTATION_RETENTION_HOURS: '24' });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await ctx?.close();
  await db?.drop();
});

/** Old and recent rows of both logs; the old ones are more than a few batches. The tables start empty for each test. */
beforeEach(async () => {
  // Emptying the log is itself what the trigger refuses; a fresh table per test is made by its owner with the trigger off.
  await client.query('ALTER TABLE audit_log DISABLE TRIGGER USER; DELETE FROM audit_log; ALTER TABLE audit_log ENABLE TRIGGER USER');
  await client.query('DELETE FROM invalidations; DELETE FROM nodes');
  await client.query(`INSERT INTO audit_log (at, actor, action, target) SELECT now() - interval '40 days' - g * interval '1 minute', 'cli:root', 'mailbox.password', 'old' || g || '@r.example' FROM generate_series(1, 350) g`);
  await client.query(`INSERT INTO audit_log (at, actor, action, target) SELECT now() - interval '10 days' - g * interval '1 minute', 'cli:root', 'mailbox.password', 'recent' || g || '@r.example' FROM generate_series(1, 50) g`);
  await client.query(`INSERT INTO invalidations (address, reason, created_at) SELECT 'old' || g || '@r.example', 'rotation', now() - interval '2 days' FROM generate_series(1, 250) g`);
  await client.query(`INSERT INTO invalidations (address, reason, created_at) SELECT 'recent' || g || '@r.example', 'rotation', now() - interval '1 hour' FROM generate_series(1, 20) g`);
  // One node has applied everything.
  await client.query(`INSERT INTO nodes (node_id, hostname, applied_invalidation_id) SELECT 'n1', 'h', max(id) FROM invalidations`);
});

const count = async (sql: string): Promise<number> => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);

describe('retention', () => {
  it('prunes audit rows older than retention.audit_days and passed invalidations older than retention_hours, in batches; keeps the recent ones', async () => {
    expect(await pruneOnce(ctx.pool, ctx.config)).toEqual({ audit: 350, invalidations: 250 });
    expect(await count(`SELECT count(*) AS n FROM audit_log WHERE target LIKE 'old%'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM audit_log WHERE target LIKE 'recent%'`)).toBe(50);
    expect(await count(`SELECT count(*) AS n FROM invalidations WHERE address LIKE 'old%'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM invalidations WHERE address LIKE 'recent%'`)).toBe(20);
    expect(await pruneOnce(ctx.pool, ctx.config)).toEqual({ audit: 0, invalidations: 0 });
  });

  it('keeps invalidations a node has not applied yet, however old', async () => {
    await client.query(`UPDATE nodes SET applied_invalidation_id = (SELECT min(id) + 99 FROM invalidations)`);
    expect(await pruneOnce(ctx.pool, ctx.config)).toEqual({ audit: 350, invalidations: 100 });
    expect(await count(`SELECT count(*) AS n FROM invalidations`)).toBe(170);
  });

  it('one daemon at a time: while another holds the pruners\' lock, a pass deletes nothing and says so', async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock(7411000003)');
      expect(await pruneOnce(ctx.pool, ctx.config)).toBeNull();
      expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(400);
      await other.query('ROLLBACK');
    } finally {
      await other.end();
    }
  });

  it('rows inside the window refuse UPDATE and DELETE, whatever retention a session declares; old rows refuse UPDATE; TRUNCATE is refused', async () => {
    const refuses = async (sql: string) => {
      await client.query('BEGIN');
      try {
        await expect(client.query(sql)).rejects.toThrow(/audit_log is append-only/);
      } finally {
        await client.query('ROLLBACK');
      }
    };
    await refuses(`UPDATE audit_log SET actor = 'x' WHERE target = 'recent1@r.example'`);
    await refuses(`DELETE FROM audit_log WHERE target = 'recent1@r.example'`);
    // As the pruner declares it, with the configured 30 days: a 10-day-old row stays.
    await refuses(`SELECT set_config('mailpassd.audit_retention', '30 days', true); DELETE FROM audit_log WHERE target = 'recent1@r.example'`);
    // A declaration under the floor of one day is not honoured at all.
    await refuses(`SELECT set_config('mailpassd.audit_retention', '1 hour', true); DELETE FROM audit_log WHERE target = 'recent1@r.example'`);
    await refuses(`SELECT set_config('mailpassd.audit_retention', '30 days', true); UPDATE audit_log SET actor = 'x' WHERE target = 'old1@r.example'`);
    await refuses('TRUNCATE audit_log');
    expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(400);
  });
});
