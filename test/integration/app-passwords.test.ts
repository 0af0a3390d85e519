import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, postJson, seedMailbox, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';

/**
 * App passwords (issue 13) against a real daemon and PostgreSQL: the CLI and
 * the admin API, and the verify path — a right app password never runs
 * argon2 (counted by mailpassd_hash_verifications_total), scopes, expiry,
 * revocation, memo, coalesced last use, require-app-passwords with webmail.
 */
let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let d: TestDaemon;
let token: string;
/** Limited to other.example. */
let scopedToken: string;
let n = 0;

const PW = 'Correct-Horse-Battery-9';
const WEBMAIL = '192.0.2.10';

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  d = await startTestDaemon({ databaseUrl: db.url, nodeId: 'app-passwords-node', env: { MAILPASSD_APP_PASSWORDS_WEBMAIL_IPS: `${WEBMAIL}, 2001:db8::/64` } });
  await seedMailbox(d, 'seed@example.org', PW);
  await d.cliOk(['domain', 'add', 'other.example']);
  token = await adminToken(d, 'app-passwords');
  scopedToken = await adminToken(d, 'other-domain', 'other.example');
}, 120_000);

afterAll(async () => {
  await d?.stop();
  await pool?.end();
  await db?.drop();
});

const auth = () => ({ authorization: `Bearer ${token}` });

/** A fresh mailbox per test, in example.org (the domain exists). */
async function mailbox(): Promise<string> {
  const address = `user${++n}@example.org`;
  await d.cliOk(['mailbox', 'add', address, '--password-stdin'], PW);
  return address;
}

async function addApp(address: string, name: string, ...flags: string[]): Promise<string> {
  const out = JSON.parse(await d.cliOk(['app-password', 'add', address, '--name', name, '--json', ...flags]));
  return out.password as string;
}

async function hashVerifications(): Promise<number> {
  const text = await (await fetch(`${d.adminUrl}/metrics`)).text();
  return Number(/^mailpassd_hash_verifications_total (\d+)/m.exec(text)![1]);
}

async function result(user: string, password: string, extra: Record<string, string> = {}): Promise<string> {
  return (await verify(d, user, password, extra)).body.result;
}

describe('app passwords: CLI and verify path', () => {
  it('add prints a generated password once; it logs in over imap without any argon2 and carries user_app_password', async () => {
    const a = await mailbox();
    const out = JSON.parse(await d.cliOk(['app-password', 'add', a, '--name', 'Phone', '--json']));
    expect(out.password).toMatch(/^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}$/);
    expect(out.app_password).toMatchObject({ name: 'Phone', scopes: ['imap', 'pop3', 'smtp', 'sieve'], expires_at: null, last_used_at: null });
    const [row] = (await pool.query('SELECT id::text, secret_hmac FROM app_passwords WHERE name = $1 AND mailbox_id = (SELECT id FROM mailboxes WHERE address = $2)', ['Phone', a])).rows;
    expect(row.secret_hmac).toHaveLength(32);
    expect(JSON.stringify(await (await pool.query('SELECT details FROM audit_log')).rows)).not.toContain(out.password);

    const before = await hashVerifications();
    for (const typed of [out.password, out.password.replace(/-/g, '').toUpperCase()]) {
      const r = await verify(d, a, typed);
      expect(r.body).toMatchObject({ result: 'ok', user: a, extra: { userdb_user_app_password: row.id } });
    }
    expect(await hashVerifications()).toBe(before);
    // The main password still works, with its one argon2; a wrong one costs exactly one argon2 as before.
    expect(await result(a, PW)).toBe('ok');
    expect(await result(a, 'abcd-efgh-jkmn-pq23')).toBe('password_mismatch');
    expect(await hashVerifications()).toBe(before + 2);
    expect(d.logs()).not.toContain(out.password);

    const list = JSON.parse(await d.cliOk(['app-password', 'list', a, '--json']));
    expect(list.app_passwords.map((x: { name: string }) => x.name)).toEqual(['Phone']);
    expect(JSON.stringify(list)).not.toContain(out.password);
    const dup = await d.cli(['app-password', 'add', a, '--name', 'Phone']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already has an app password named "Phone"/);
  });

  it('an app password outside its scopes is a mismatch (at the price of the main argon2); smtp covers submission', async () => {
    const a = await mailbox();
    const smtpOnly = await addApp(a, 'Printer', '--scope', 'smtp');
    const before = await hashVerifications();
    expect(await result(a, smtpOnly, { service: 'smtp' })).toBe('ok');
    expect(await result(a, smtpOnly, { service: 'submission' })).toBe('ok');
    expect(await hashVerifications()).toBe(before);
    for (const service of ['imap', 'pop3', 'sieve', 'self-service', 'doveadm']) expect(await result(a, smtpOnly, { service }), service).toBe('password_mismatch');
    expect(await hashVerifications()).toBe(before + 5);
    expect((await d.cli(['app-password', 'add', a, '--name', 'X', '--scope', 'imap,ftp'])).code).toBe(64);
  });

  it('an expired app password is refused', async () => {
    const a = await mailbox();
    const p = await addApp(a, 'Tablet', '--expires', '90d');
    expect(await result(a, p)).toBe('ok');
    await pool.query("UPDATE app_passwords SET expires_at = now() - interval '1 second' WHERE name = 'Tablet'");
    expect(await result(a, p)).toBe('password_mismatch');
  });

  it('revoke refuses it at once, also right after a memoised main-password login; the invalidation names it', async () => {
    const a = await mailbox();
    const phone = await addApp(a, 'Phone');
    expect(await result(a, PW)).toBe('ok');
    expect(await result(a, PW)).toBe('ok'); // memoised now
    expect(await result(a, phone)).toBe('ok');
    const r = JSON.parse(await d.cliOk(['app-password', 'revoke', a, 'Phone', '--json']));
    expect(r).toMatchObject({ address: a, name: 'Phone', complete: true, kicked: 'mailbox', nodes: [{ node_id: 'app-passwords-node', applied: true, kicked: 'none' }] });
    const [inv] = (await pool.query('SELECT reason, kick, app_password_id FROM invalidations WHERE id = $1', [r.invalidation_id])).rows;
    expect(inv).toMatchObject({ reason: 'app_password_revoked', kick: true });
    expect(inv.app_password_id).not.toBeNull();
    expect(await result(a, phone)).toBe('password_mismatch');
    expect(await result(a, PW)).toBe('ok');
    expect((await d.cli(['app-password', 'revoke', a, 'Phone'])).code).toBe(1);
  });

  it('last use is coalesced in memory and written by the periodic flush, not per login', async () => {
    const a = await mailbox();
    const p = await addApp(a, 'Laptop client');
    for (let i = 0; i < 5; i++) expect(await result(a, p, { remote_ip: `198.51.100.${i + 1}`, service: i === 4 ? 'pop3' : 'imap' })).toBe('ok');
    await waitFor('the last use to be flushed', 20_000, async () => {
      const [row] = (await pool.query("SELECT last_used_at FROM app_passwords WHERE name = 'Laptop client'")).rows;
      return row.last_used_at !== null;
    });
    const list = JSON.parse(await d.cliOk(['app-password', 'list', a, '--json']));
    expect(list.app_passwords[0]).toMatchObject({ last_used_ip: '198.51.100.5', last_used_service: 'pop3' });
  });

  it('no write per login: with a long flush interval nothing is written until the daemon stops, then the last use is', async () => {
    const a = await mailbox();
    const p = await addApp(a, 'Watch');
    const lazy = await startTestDaemon({ databaseUrl: db.url, nodeId: 'app-passwords-lazy', env: { MAILPASSD_APP_PASSWORDS_LAST_USED_FLUSH_MS: '600000' } });
    try {
      for (let i = 0; i < 20; i++) expect((await verify(lazy, a, p, { remote_ip: '203.0.113.9' })).body.result).toBe('ok');
      const [row] = (await pool.query("SELECT last_used_at FROM app_passwords WHERE name = 'Watch'")).rows;
      expect(row.last_used_at).toBeNull();
    } finally {
      expect(await lazy.stop()).toBe(0);
    }
    const [row] = (await pool.query("SELECT last_used_at, last_used_ip, last_used_service FROM app_passwords WHERE name = 'Watch'")).rows;
    expect(row).toMatchObject({ last_used_ip: '203.0.113.9', last_used_service: 'imap' });
    expect(row.last_used_at).not.toBeNull();
  });

  it('rotate --revoke-app-passwords deletes them in the rotation', async () => {
    const a = await mailbox();
    const p1 = await addApp(a, 'One');
    await addApp(a, 'Two');
    const r = JSON.parse(await d.cliOk(['rotate', a, '--generate', '--revoke-app-passwords', '--json']));
    expect(r.revoked_app_passwords).toBe(2);
    expect(await result(a, p1)).toBe('password_mismatch');
    expect(JSON.parse(await d.cliOk(['app-password', 'list', a, '--json'])).app_passwords).toEqual([]);
    const [audit] = (await pool.query("SELECT details FROM audit_log WHERE action = 'password.rotate' AND target = $1", [a])).rows;
    expect(audit.details.revoked_app_passwords).toBe(2);
  });

  it('self-service does not take an app password as the current password', async () => {
    const a = await mailbox();
    const p = await addApp(a, 'Phone');
    const r = await postJson(`${d.adminUrl}/v1/self-service/password`, { user: a, curpass: p, newpass: 'Another-Long-Passphrase-42' });
    expect(r.status).toBe(403);
  });
});

const requiredFlushes = async (address: string) =>
  (await pool.query("SELECT kick FROM invalidations WHERE address = $1 AND reason = 'app_passwords_required' ORDER BY id", [address])).rows;

describe('require app passwords for mail clients', () => {
  it('per mailbox: the main password is refused for mail services except from webmail hosts; app passwords work', async () => {
    const a = await mailbox();
    const p = await addApp(a, 'Phone');
    await d.cliOk(['app-password', 'require', a]);
    // A main password Dovecot cached stops opening mail at once: every node flushes the user (no kick).
    expect(await requiredFlushes(a)).toEqual([{ kick: false }]);
    for (const service of ['imap', 'pop3', 'smtp', 'submission', 'sieve']) expect(await result(a, PW, { service, remote_ip: '198.51.100.7' }), service).toBe('password_mismatch');
    expect(await result(a, PW, { service: 'imap' })).toBe('password_mismatch');
    expect(await result(a, PW, { service: 'imap', remote_ip: WEBMAIL })).toBe('ok');
    expect(await result(a, PW, { service: 'smtp', remote_ip: '2001:db8::5' })).toBe('ok');
    // Roundcube forwarding its user's address (login_trusted_networks): the peer itself is real_remote_ip.
    expect(await result(a, PW, { service: 'imap', remote_ip: '198.51.100.7', real_remote_ip: WEBMAIL })).toBe('ok');
    expect(await result(a, PW, { service: 'imap', remote_ip: WEBMAIL, real_remote_ip: '198.51.100.7' })).toBe('password_mismatch');
    expect(await result(a, p, { service: 'imap', remote_ip: '198.51.100.7' })).toBe('ok');
    await d.cliOk(['app-password', 'require', a, '--off']);
    expect(await result(a, PW, { service: 'imap', remote_ip: '198.51.100.7' })).toBe('ok');
    expect(await requiredFlushes(a)).toHaveLength(1); // accepting more needs no flush
  });

  it('per domain through the API; a domain-scoped token sees only its domain', async () => {
    await seedMailbox(d, 'x@required.example', PW);
    const denied = await fetch(`${d.adminUrl}/v1/domains/required.example/app-passwords-required`, { method: 'PUT', headers: { authorization: `Bearer ${scopedToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ required: true }) });
    expect(denied.status).toBe(404);
    const put = await fetch(`${d.adminUrl}/v1/domains/required.example/app-passwords-required`, { method: 'PUT', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ required: true }) });
    expect(put.status).toBe(200);
    expect(await requiredFlushes('x@required.example')).toEqual([{ kick: false }]);
    expect(await result('x@required.example', PW, { remote_ip: '198.51.100.7' })).toBe('password_mismatch');
    expect(await result('x@required.example', PW, { remote_ip: WEBMAIL })).toBe('ok');
  });
});

describe('app passwords: admin API', () => {
  it('POST creates (password in this answer only), GET lists, DELETE revokes; scoped tokens stay in their domain; OpenAPI lists them', async () => {
    const a = await mailbox();
    const created = await postJson(`${d.adminUrl}/v1/mailboxes/${a}/app-passwords`, { name: 'Phone', scopes: ['imap', 'submission'], expires_in_days: 30 }, auth());
    expect(created.status, created.text).toBe(201);
    expect(created.body.app_password).toMatchObject({ name: 'Phone', scopes: ['imap', 'smtp'] });
    expect(Date.parse(created.body.app_password.expires_at)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(await result(a, created.body.password)).toBe('ok');

    const scoped = scopedToken;
    const foreign = await fetch(`${d.adminUrl}/v1/mailboxes/${a}/app-passwords`, { headers: { authorization: `Bearer ${scoped}` } });
    expect(foreign.status).toBe(404);
    const foreignPost = await postJson(`${d.adminUrl}/v1/mailboxes/${a}/app-passwords`, { name: 'Evil' }, { authorization: `Bearer ${scoped}` });
    expect(foreignPost.status).toBe(404);

    const list = (await (await fetch(`${d.adminUrl}/v1/mailboxes/${a}/app-passwords`, { headers: auth() })).json()) as { app_passwords: unknown[] };
    expect(list.app_passwords).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(created.body.password);

    const del = await fetch(`${d.adminUrl}/v1/mailboxes/${a}/app-passwords/Phone`, { method: 'DELETE', headers: auth() });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ name: 'Phone', kicked: 'mailbox', complete: true });
    expect(await result(a, created.body.password)).toBe('password_mismatch');

    const rotated = await postJson(`${d.adminUrl}/v1/mailboxes/${a}/rotate`, { generate: true, revoke_app_passwords: true }, auth());
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body.revoked_app_passwords).toBe(0);

    const spec = (await (await fetch(`${d.adminUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/mailboxes/{address}/app-passwords', '/v1/mailboxes/{address}/app-passwords/{name}']));
  });
});
