import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAuthRow } from '../../src/store/sql/mailboxes.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';

/**
 * Migration 0011: whether a mailbox has TOTP on (then app passwords are required
 * for mail) is a column of the mailbox row the login reads, kept by a trigger on
 * mailbox_totp — whatever writes that table (enrol, confirm, reset, a cascade).
 */
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url);
  await ctx.pool.query(`INSERT INTO domains (name) VALUES ('totp-flag.example')`);
  await ctx.pool.query(
    `INSERT INTO mailboxes (address, domain, password_hash) SELECT 'u' || i || '@totp-flag.example', 'totp-flag.example', 'x' FROM generate_series(1, 3) i`,
  );
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await db?.drop();
});

const idOf = async (address: string) => (await ctx.pool.query<{ id: string }>('SELECT id FROM mailboxes WHERE address = $1', [address])).rows[0]!.id;
const required = async (address: string) => (await getAuthRow(ctx.pool, address))!.require_app_passwords;
const requiredWithApp = async (address: string) => (await getAuthRow(ctx.pool, address, Buffer.alloc(32, 1)))!.require_app_passwords;

describe('the mailbox row knows whether TOTP is on', () => {
  it('pending enrolment: not yet; confirmed: required (both login statements); reset: not any more', async () => {
    const id = await idOf('u1@totp-flag.example');
    await ctx.pool.query(`INSERT INTO mailbox_totp (mailbox_id, secret) VALUES ($1, 'SECRET')`, [id]);
    expect(await required('u1@totp-flag.example')).toBe(false);
    await ctx.pool.query('UPDATE mailbox_totp SET enabled_at = now() WHERE mailbox_id = $1', [id]);
    expect(await required('u1@totp-flag.example')).toBe(true);
    expect(await requiredWithApp('u1@totp-flag.example')).toBe(true);
    expect(await required('u2@totp-flag.example')).toBe(false);
    await ctx.pool.query('DELETE FROM mailbox_totp WHERE mailbox_id = $1', [id]);
    expect(await required('u1@totp-flag.example')).toBe(false);
  });

  it('a second factor moved to another mailbox (an UPDATE of mailbox_id) moves the flag with it', async () => {
    const [a, b] = [await idOf('u2@totp-flag.example'), await idOf('u3@totp-flag.example')];
    await ctx.pool.query(`INSERT INTO mailbox_totp (mailbox_id, secret, enabled_at) VALUES ($1, 'SECRET', now())`, [a]);
    expect(await required('u2@totp-flag.example')).toBe(true);
    await ctx.pool.query('UPDATE mailbox_totp SET mailbox_id = $2 WHERE mailbox_id = $1', [a, b]);
    expect(await required('u2@totp-flag.example')).toBe(false);
    expect(await required('u3@totp-flag.example')).toBe(true);
  });

  it('the mailbox and domain switches still count on their own', async () => {
    await ctx.pool.query(`UPDATE mailboxes SET require_app_passwords = true WHERE address = 'u1@totp-flag.example'`);
    expect(await required('u1@totp-flag.example')).toBe(true);
    await ctx.pool.query(`UPDATE mailboxes SET require_app_passwords = false WHERE address = 'u1@totp-flag.example'`);
    await ctx.pool.query(`UPDATE domains SET require_app_passwords = true WHERE name = 'totp-flag.example'`);
    expect(await required('u1@totp-flag.example')).toBe(true);
  });
});
