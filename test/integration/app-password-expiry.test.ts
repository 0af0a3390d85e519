import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { seedMailbox, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * Expired app passwords and Dovecot's auth cache (issue 13), against two real
 * daemons on one PostgreSQL: the periodic sweep appends, once per expiry and
 * from one daemon at a time, the invalidation a revocation writes, so every
 * node flushes its Dovecot's cache for the user. (What Dovecot then does with
 * it: test/e2e/app-passwords-dovecot.test.ts.)
 */
let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let d1: TestDaemon;
let d2: TestDaemon;
let n = 0;

const PW = 'Correct-Horse-Battery-9';
const SWEEP_MS = 200;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  const env = { MAILPASSD_APP_PASSWORDS_EXPIRY_SWEEP_INTERVAL_MS: String(SWEEP_MS) };
  d1 = await startTestDaemon({ databaseUrl: db.url, nodeId: 'expiry-1', env });
  d2 = await startTestDaemon({ databaseUrl: db.url, nodeId: 'expiry-2', env });
  await seedMailbox(d1, 'seed@example.org', PW);
}, 120_000);

afterAll(async () => {
  await d2?.stop();
  await d1?.stop();
  await pool?.end();
  await db?.drop();
});

async function mailboxWithApp(name: string, expires = '90d'): Promise<{ address: string; password: string; id: string }> {
  const address = `expiry${++n}@example.org`;
  await d1.cliOk(['mailbox', 'add', address, '--password-stdin'], PW);
  const out = JSON.parse(await d1.cliOk(['app-password', 'add', address, '--name', name, '--expires', expires, '--json']));
  const [row] = (await pool.query('SELECT a.id::text FROM app_passwords a JOIN mailboxes m ON m.id = a.mailbox_id WHERE m.address = $1 AND a.name = $2', [address, name])).rows;
  return { address, password: out.password as string, id: row.id as string };
}

const expiredInvalidations = async (address: string) =>
  (await pool.query("SELECT id::text, kick, app_password_id::text FROM invalidations WHERE address = $1 AND reason = 'app_password_expired' ORDER BY id", [address])).rows as Array<{
    id: string;
    kick: boolean;
    app_password_id: string;
  }>;

describe('app password expiry sweep', () => {
  it('an app password that expires gets one invalidation naming it (kick), within a sweep; every node applies it; never a second one', async () => {
    const { address, password, id } = await mailboxWithApp('Phone');
    const other = await mailboxWithApp('Laptop'); // expires in 90 days: untouched
    expect((await verify(d1, address, password)).body.result).toBe('ok');
    await pool.query("UPDATE app_passwords SET expires_at = now() + interval '1 second' WHERE id = $1", [id]);
    // Not before its expiry: a sweep or more run meanwhile.
    await sleep(3 * SWEEP_MS);
    expect(await expiredInvalidations(address)).toEqual([]);

    const [inv] = await waitFor('the expiry invalidation', 5_000, async () => {
      const rows = await expiredInvalidations(address);
      return rows.length > 0 && rows;
    });
    expect(inv).toMatchObject({ kick: true, app_password_id: id });
    expect((await verify(d1, address, password)).body.result).toBe('password_mismatch');
    // Both nodes flush (their cursors pass it), as for a revocation.
    await waitFor('both nodes applied it', 5_000, async () => {
      const r = await pool.query('SELECT count(*)::int AS n FROM nodes WHERE applied_invalidation_id >= $1', [inv!.id]);
      return r.rows[0].n === 2;
    });
    const [stamp] = (await pool.query('SELECT expiry_invalidated_at FROM app_passwords WHERE id = $1', [id])).rows;
    expect(stamp.expiry_invalidated_at).toBeInstanceOf(Date);

    // Many sweeps later, by two daemons: still one.
    await sleep(6 * SWEEP_MS);
    expect(await expiredInvalidations(address)).toHaveLength(1);
    expect(await expiredInvalidations(other.address)).toEqual([]);
    expect((await verify(d1, other.address, other.password)).body.result).toBe('ok');
  });

  it('one daemon at a time: while the sweep lock is held elsewhere neither daemon sweeps; once free, one invalidation appears', async () => {
    const { address, id } = await mailboxWithApp('Tablet');
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(7411000015)');
      await pool.query("UPDATE app_passwords SET expires_at = now() - interval '1 second' WHERE id = $1", [id]);
      await sleep(5 * SWEEP_MS);
      expect(await expiredInvalidations(address)).toEqual([]);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    await waitFor('the expiry invalidation', 5_000, async () => (await expiredInvalidations(address)).length > 0);
    await sleep(5 * SWEEP_MS);
    expect(await expiredInvalidations(address)).toHaveLength(1);
  });
});
