/**
 * The console's second factor and app passwords (issue 13) over real HTTP, on
 * real daemons, PostgreSQL and argon2: enrolment confirmed by a code, the
 * sign-in's second step (the half-signed-in state opens nothing), wrong codes
 * refused and throttled, recovery codes working once, require_totp_for_admins,
 * and "TOTP on = app passwords required" in /v1/passdb/verify; an admin's
 * reset of a lost second factor (CLI, API, console) and its status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Secret, TOTP } from 'otpauth';
import { createTestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { adminToken, seedMailbox, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';

const PW = 'Correct-Horse-Battery-9';
const WEBMAIL = '192.0.2.10';

let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let d: TestDaemon;
/** The same database, console.require_totp_for_admins = true. */
let strict: TestDaemon;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const env = { MAILPASSD_APP_PASSWORDS_WEBMAIL_IPS: WEBMAIL, MAILPASSD_AUTH_MAX_FAILURES_PER_USER_IP: '3', MAILPASSD_ROTATION_WAIT_MS: '500' };
  d = await startTestDaemon({ databaseUrl: db.url, nodeId: 'totp-1', env });
  strict = await startTestDaemon({ databaseUrl: db.url, nodeId: 'totp-2', env: { ...env, MAILPASSD_CONSOLE_REQUIRE_TOTP_FOR_ADMINS: 'true' } });
  await seedMailbox(d, 'seed@example.org', PW);
}, 120_000);

afterAll(async () => {
  await strict?.stop();
  await d?.stop();
  await pool?.end();
  await db?.drop();
});

async function mailbox(): Promise<string> {
  const address = `user${++n}@example.org`;
  await d.cliOk(['mailbox', 'add', address, '--password-stdin'], PW);
  return address;
}

/** The console client, signing in with PW unless told otherwise. */
class Client extends ConsoleClient {
  override login(address: string, password = PW) {
    return super.login(address, password);
  }
}

const totpFor = (address: string, secret: string) => new TOTP({ issuer: 'mailpassd', label: address, secret: Secret.fromBase32(secret) });
/** A code for a later 30 s step (within the accepted window): each step is accepted only once. */
const codeAt = (t: TOTP, stepsAhead: number) => t.generate({ timestamp: Date.now() + stepsAhead * 30_000 });

/** Signs in, enrols TOTP; returns the signed-in client, the TOTP and the recovery codes. */
async function enrolled(base = d.adminUrl) {
  const address = await mailbox();
  const c = new Client(base);
  expect((await c.login(address)).location).toBe('/');
  const page = await c.req('GET', '/me/totp');
  expect(page.status).toBe(200);
  expect(page.text).toMatch(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" alt="QR code for the authenticator app"/);
  const secret = /data-totp-secret[^>]*>([A-Z2-7]+)</.exec(page.text)![1]!;
  const totp = totpFor(address, secret);
  const done = await c.req('POST', '/me/totp/confirm', { code: codeAt(totp, 0) });
  expect(done.status, done.text).toBe(200);
  const codes = [...done.text.matchAll(/<li><code>([0-9a-f-]+)<\/code><\/li>/g)].map((m) => m[1]!);
  return { address, c, totp, secret, codes };
}

describe('TOTP enrolment and sign-in', () => {
  it('enrolment needs a right code; then 10 recovery codes are shown once, stored hashed; the secret is never logged', async () => {
    const address = await mailbox();
    const c = new Client(d.adminUrl);
    await c.login(address);
    const page = await c.req('GET', '/me/totp');
    const secret = /data-totp-secret[^>]*>([A-Z2-7]+)</.exec(page.text)![1]!;
    // Not active before confirmation: the password alone still signs in, with no second step.
    expect((await new Client(d.adminUrl).login(address)).location).toBe('/');
    const wrong = await c.req('POST', '/me/totp/confirm', { code: '000000' === codeAt(totpFor(address, secret), 0) ? '111111' : '000000' });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('role="alert"');
    const done = await c.req('POST', '/me/totp/confirm', { code: codeAt(totpFor(address, secret), 0) });
    expect(done.status).toBe(200);
    const codes = [...done.text.matchAll(/<li><code>([0-9a-f-]+)<\/code><\/li>/g)].map((m) => m[1]!);
    expect(codes).toHaveLength(10);
    const stored = (await pool.query('SELECT encode(code_sha256, \'hex\') AS h FROM totp_recovery_codes r JOIN mailboxes m ON m.id = r.mailbox_id WHERE m.address = $1', [address])).rows;
    expect(stored).toHaveLength(10);
    expect(JSON.stringify(stored)).not.toContain(codes[0]!.replace('-', ''));
    const me = await c.req('GET', '/me');
    expect(me.text).toContain('10 unused recovery code(s) left');
    const audit = (await pool.query("SELECT action, details FROM audit_log WHERE target = $1 AND action LIKE 'console.totp%'", [address])).rows;
    expect(audit.map((a) => a.action)).toEqual(['console.totp_enabled']);
    expect(d.logs()).not.toContain(secret);
    expect(JSON.stringify((await pool.query('SELECT details FROM audit_log WHERE target = $1', [address])).rows)).not.toContain(secret);
  });

  it('sign-in asks for the code after the password; the half-signed-in state opens nothing; the right code signs in (audited with factor)', async () => {
    const { address, totp } = await enrolled();
    const c = new Client(d.adminUrl);
    const first = await c.login(address);
    expect(first.location).toBe('/login/code');
    expect([...c.cookies.keys()]).toEqual(['mailpassd_login']);
    for (const url of ['/me', '/domains', '/me/totp']) expect((await c.req('GET', url)).location, url).toBe('/login');
    // The challenge's token is no session, even presented as one.
    const forged = new Client(d.adminUrl);
    forged.cookies.set('mailpassd_session', c.cookies.get('mailpassd_login')!);
    expect((await forged.req('GET', '/me')).location).toBe('/login');
    const step = await c.req('GET', '/login/code');
    expect(step.text).toContain('Code (or a recovery code)');
    const code = codeAt(totp, 1);
    const ok = await c.req('POST', '/login/code', { code });
    expect(ok.location).toBe('/');
    expect(c.cookies.has('mailpassd_session')).toBe(true);
    expect((await c.req('GET', '/me')).status).toBe(200);
    const last = (await pool.query("SELECT details FROM audit_log WHERE target = $1 AND action = 'console.login' ORDER BY id DESC LIMIT 2", [address])).rows;
    expect(last[0].details).toMatchObject({ result: 'ok', factor: 'totp' });
    expect(last[1].details).toMatchObject({ result: 'second_factor_due', factor: 'password' });
    // The same code again (a replay) is refused.
    const again = new Client(d.adminUrl);
    await again.login(address);
    expect((await again.req('POST', '/login/code', { code })).status).toBe(401);
  });

  it('wrong codes are refused and throttled with the login throttle: then even the right code is refused', async () => {
    const { address, totp } = await enrolled();
    const c = new Client(d.adminUrl);
    await c.login(address);
    const right = codeAt(totp, 1);
    const wrong = right === '123456' ? '654321' : '123456';
    for (let i = 0; i < 3; i++) {
      const r = await c.req('POST', '/login/code', { code: wrong });
      expect(r.status).toBe(401);
      expect(r.text).toContain('Wrong code');
    }
    const locked = await c.req('POST', '/login/code', { code: right });
    expect(locked.status).toBe(429);
    expect(locked.text).toContain('Too many attempts');
    expect(c.cookies.has('mailpassd_session')).toBe(false);
    const audit = (await pool.query("SELECT details FROM audit_log WHERE target = $1 AND action = 'console.login' AND details->>'result' = 'refused'", [address])).rows;
    expect(audit.map((a) => a.details.reason)).toEqual(['wrong_code', 'wrong_code', 'wrong_code', 'throttled']);
  });

  it('a recovery code signs in once', async () => {
    const { address, codes } = await enrolled();
    const c = new Client(d.adminUrl);
    await c.login(address);
    expect((await c.req('POST', '/login/code', { code: codes[3]!.toUpperCase() })).location).toBe('/');
    const last = (await pool.query("SELECT details FROM audit_log WHERE target = $1 AND action = 'console.login' ORDER BY id DESC LIMIT 1", [address])).rows;
    expect(last[0].details).toMatchObject({ result: 'ok', factor: 'recovery_code' });
    const again = new Client(d.adminUrl);
    await again.login(address);
    expect((await again.req('POST', '/login/code', { code: codes[3]! })).status).toBe(401);
    expect((await c.req('GET', '/me')).text).toContain('9 unused recovery code(s) left');
  });

  it('turning TOTP off needs a current code; then the password alone signs in again', async () => {
    const { address, c, totp } = await enrolled();
    expect((await c.req('POST', '/me/totp/disable', { code: '' + (Number(codeAt(totp, 1)) ^ 1).toString().padStart(6, '0') })).status).toBe(403);
    const off = await c.req('POST', '/me/totp/disable', { code: codeAt(totp, 1) });
    expect(off.location).toBe('/me?notice=totp_disabled');
    expect((await new Client(d.adminUrl).login(address)).location).toBe('/');
    const audit = (await pool.query("SELECT action FROM audit_log WHERE target = $1 AND action LIKE 'console.totp%' ORDER BY id", [address])).rows;
    expect(audit.map((a) => a.action)).toEqual(['console.totp_enabled', 'console.totp_disabled']);
  });
});

describe('console.require_totp_for_admins', () => {
  it('an admin without TOTP reaches only enrolment; an owner is not held; once enrolled the admin pages open', async () => {
    const admin = await mailbox();
    await d.cliOk(['admin', 'grant', admin, '--global']);
    const c = new Client(strict.adminUrl);
    expect((await c.login(admin)).location).toBe('/');
    for (const url of ['/', '/domains', '/me', '/cluster', '/audit']) expect((await c.req('GET', url)).location, url).toBe('/me/totp');
    const page = await c.req('GET', '/me/totp');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Administrators must set up two-factor authentication');
    expect((await c.req('POST', '/domains', { name: 'blocked.example' })).location).toBe('/me/totp');
    const owner = new Client(strict.adminUrl);
    await owner.login(await mailbox());
    expect((await owner.req('GET', '/me')).status).toBe(200);
    // The same admin on the other daemon (requirement off) is not held.
    const relaxed = new Client(d.adminUrl);
    await relaxed.login(admin);
    expect((await relaxed.req('GET', '/domains')).status).toBe(200);

    const secret = /data-totp-secret[^>]*>([A-Z2-7]+)</.exec(page.text)![1]!;
    expect((await c.req('POST', '/me/totp/confirm', { code: codeAt(totpFor(admin, secret), 0) })).status).toBe(200);
    expect((await c.req('GET', '/domains')).status).toBe(200);
  });
});

describe('TOTP on: the main password no longer opens mail services', () => {
  it('/v1/passdb/verify refuses the main password for imap, pop3, submission and sieve; webmail hosts keep it; app passwords and the console login work', async () => {
    const address = await mailbox();
    const app = JSON.parse(await d.cliOk(['app-password', 'add', address, '--name', 'Phone', '--json'])).password as string;
    expect((await verify(d, address, PW)).body.result).toBe('ok');
    const { totp } = await enrolFor(address);
    // From a client address each (the throttle allows 3 failures per user and address here).
    for (const [i, service] of ['imap', 'pop3', 'submission', 'sieve'].entries()) {
      expect((await verify(d, address, PW, { service, remote_ip: `198.51.100.${i + 1}` })).body.result, service).toBe('password_mismatch');
    }
    expect((await verify(d, address, PW, { service: 'imap', remote_ip: WEBMAIL })).body.result).toBe('ok');
    expect((await verify(d, address, app, { service: 'imap' })).body.result).toBe('ok');
    const c = new Client(d.adminUrl);
    expect((await c.login(address)).location).toBe('/login/code');
    expect((await c.req('POST', '/login/code', { code: codeAt(totp, 1) })).location).toBe('/');
  });
});

describe('app passwords on /me', () => {
  it('created with the form (shown once), refused without a service; "Also revoke all app passwords" on a password change revokes them', async () => {
    const address = await mailbox();
    const c = new Client(d.adminUrl);
    await c.login(address);
    await c.req('GET', '/me'); // the form token
    const none = await c.req('POST', '/me/app-passwords', { name: 'Nothing' });
    expect(none.status).toBe(400);
    expect(none.text).toContain('role="alert"');
    const made = await c.req('POST', '/me/app-passwords', { name: 'Tablet', services: ['imap', 'smtp'], expiry_days: '7' });
    expect(made.status).toBe(200);
    const app = /id="app-password-value"[^>]*value="([^"]+)"/.exec(made.text)?.[1] ?? /value="([^"]+)"[^>]*data-copy-source/.exec(made.text)![1]!;
    expect(made.text).toContain('It will not be shown again');
    expect((await verify(d, address, app, { service: 'imap' })).body.result).toBe('ok');
    expect((await verify(d, address, app, { service: 'pop3', remote_ip: '198.51.100.9' })).body.result).toBe('password_mismatch');
    expect((await c.req('GET', '/me')).text).not.toContain(app);

    const fresh = 'Quartz-Meadow-Pilot-77';
    const changed = await c.req('POST', '/me/password', { current: PW, password: fresh, confirm: fresh, revokeAppPasswords: '1' });
    expect(changed.location).toBe('/me?notice=changed_revoked&n=1');
    expect((await verify(d, address, app, { service: 'imap', remote_ip: '198.51.100.10' })).body.result).toBe('password_mismatch');
    expect((await c.req('GET', '/me')).text).toContain('No app passwords yet.');
  });
});

describe('an administrator and a mailbox\'s app passwords', () => {
  it('an admin of the domain lists and revokes them (per node); an admin of another domain gets 404', async () => {
    const address = await mailbox();
    const app = JSON.parse(await d.cliOk(['app-password', 'add', address, '--name', 'Desk', '--json'])).password as string;
    const admin = await mailbox();
    await d.cliOk(['admin', 'grant', admin, '--domain', 'example.org']);
    const c = new Client(d.adminUrl);
    await c.login(admin);
    const base = `/domains/example.org/mailboxes/${encodeURIComponent(address)}/app-passwords`;
    const list = await c.req('GET', base);
    expect(list.status).toBe(200);
    expect(list.text).toContain('data-app-password="Desk"');
    expect(list.text).not.toContain(app);
    expect((await c.req('GET', '/domains/example.org')).text).toContain(`href="${base}"`);
    const confirm = await c.req('GET', `${base}/revoke?name=Desk`);
    expect(confirm.text).toContain(`action="${base}/revoke"`);
    const done = await c.req('POST', `${base}/revoke`, { name: 'Desk' });
    expect(done.status).toBe(200);
    expect(done.text).toMatch(/&#34;Desk&#34; revoked on 2 of 2 nodes\./);
    expect((await verify(d, address, app)).body.result).toBe('password_mismatch');

    await d.cliOk(['domain', 'add', `elsewhere${n}.example`]);
    const outsider = await mailbox();
    await d.cliOk(['admin', 'grant', outsider, '--domain', `elsewhere${n - 1}.example`]);
    const o = new Client(d.adminUrl);
    await o.login(outsider);
    expect((await o.req('GET', base)).status).toBe(404);
  });
});

/** Enrols TOTP for an existing mailbox (signed in with the main password). */
async function enrolFor(address: string) {
  const c = new Client(d.adminUrl);
  await c.login(address);
  const page = await c.req('GET', '/me/totp');
  const secret = /data-totp-secret[^>]*>([A-Z2-7]+)</.exec(page.text)![1]!;
  const totp = totpFor(address, secret);
  expect((await c.req('POST', '/me/totp/confirm', { code: codeAt(totp, 0) })).status).toBe(200);
  return { totp };
}

const expectNoSecrets = async (address: string, secret: string, codes: string[]) => {
  const text = JSON.stringify((await pool.query('SELECT details FROM audit_log WHERE target = $1', [address])).rows);
  expect(text).not.toContain(secret);
  for (const code of codes) expect(text).not.toContain(code.replace('-', ''));
};

describe('a lost second factor: status and reset by an admin', () => {
  it('enrolment flushes every Dovecot cache for the user (an invalidation, no kick): a cached main password stops opening mail at once', async () => {
    const { address } = await enrolled();
    const rows = (await pool.query("SELECT id::text, kick FROM invalidations WHERE address = $1 AND reason = 'totp_enabled'", [address])).rows;
    expect(rows).toEqual([{ id: expect.any(String), kick: false }]);
    await waitForNodes(rows[0].id);
  });

  it('CLI: status shows it; reset removes secret and codes, ends the console sessions, is audited; the password alone signs in and opens mail again; a second reset is "nothing to reset" (exit 1)', async () => {
    const { address, c, secret, codes } = await enrolled();
    const before = JSON.parse(await d.cliOk(['totp', 'status', address, '--json']));
    expect(before).toMatchObject({ address, enabled: true, pending: false, recovery_codes_left: 10 });
    expect(Date.parse(before.enabled_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.stringify(before)).not.toContain(secret);
    expect((await verify(d, address, PW, { remote_ip: '198.51.100.50' })).body.result).toBe('password_mismatch');

    const r = JSON.parse(await d.cliOk(['totp', 'reset', address, '--json']));
    expect(r).toEqual({ address, was_enabled: true, recovery_codes_removed: 10, console_sessions_ended: 1 });
    // The session a thief might hold is gone.
    expect((await c.req('GET', '/me')).location).toBe('/login');
    expect((await pool.query('SELECT 1 FROM mailbox_totp t JOIN mailboxes m ON m.id = t.mailbox_id WHERE m.address = $1 UNION ALL SELECT 1 FROM totp_recovery_codes r JOIN mailboxes m ON m.id = r.mailbox_id WHERE m.address = $1', [address])).rowCount).toBe(0);
    expect((await new Client(d.adminUrl).login(address)).location).toBe('/');
    expect((await verify(d, address, PW, { remote_ip: '198.51.100.51' })).body.result).toBe('ok');
    const [audit] = (await pool.query("SELECT actor, details FROM audit_log WHERE target = $1 AND action = 'totp.reset'", [address])).rows;
    expect(audit.actor).toMatch(/^cli:/);
    expect(audit.details).toEqual({ was_enabled: true, recovery_codes_removed: 10, console_sessions_ended: 1 });
    await expectNoSecrets(address, secret, codes);
    expect(d.logs()).not.toContain(secret);

    expect(JSON.parse(await d.cliOk(['totp', 'status', address, '--json']))).toEqual({ address, enabled: false, pending: false, enabled_at: null, recovery_codes_left: 0 });
    const again = await d.cli(['totp', 'reset', address, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe('totp_not_enrolled');
    expect(again.stderr).toContain('nothing to reset');
    expect((await d.cli(['totp', 'reset', 'nobody@example.org'])).code).toBe(1);
    expect((await d.cli(['totp', 'status', 'nobody@example.org', '--json'])).stdout).toContain('mailbox_not_found');
    const help = await d.cli(['totp', 'reset', '--help']);
    expect(help.stdout).toContain('recovery codes');
  });

  it('API: GET and DELETE /v1/mailboxes/<address>/totp; a token of another domain gets 404; nothing to reset is 404 totp_not_enrolled; in OpenAPI', async () => {
    const { address } = await enrolled();
    await d.cliOk(['domain', 'add', 'totp-other.example']);
    const scoped = await adminToken(d, 'totp-scoped', 'totp-other.example');
    const global = await adminToken(d, 'totp-global');
    const call = (method: string, token: string) => fetch(`${d.adminUrl}/v1/mailboxes/${address}/totp`, { method, headers: { authorization: `Bearer ${token}` } });
    expect((await call('DELETE', scoped)).status).toBe(404);
    expect((await call('GET', scoped)).status).toBe(404);
    const status = await call('GET', global);
    expect(await status.json()).toMatchObject({ address, enabled: true, recovery_codes_left: 10 });
    const del = await call('DELETE', global);
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ address, was_enabled: true, recovery_codes_removed: 10, console_sessions_ended: 1 });
    const [audit] = (await pool.query("SELECT actor FROM audit_log WHERE target = $1 AND action = 'totp.reset'", [address])).rows;
    expect(audit.actor).toContain('totp-global');
    const none = await call('DELETE', global);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { code: string }).code).toBe('totp_not_enrolled');
    const spec = (await (await fetch(`${d.adminUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(spec.paths['/v1/mailboxes/{address}/totp'] ?? {})).toEqual(expect.arrayContaining(['get', 'delete']));
  });

  it('console: "Reset second factor" in the gear menu asks first, then resets (CSRF); with require_totp_for_admins the admin whose factor was reset must enrol again', async () => {
    const target = await mailbox();
    await d.cliOk(['admin', 'grant', target, '--global']);
    await enrolFor(target);
    const admin = await mailbox();
    await d.cliOk(['admin', 'grant', admin, '--domain', 'example.org']);
    const c = new Client(d.adminUrl);
    await c.login(admin);
    const list = await c.req('GET', `/domains/example.org?q=${encodeURIComponent(target)}`);
    const action = `/domains/example.org/mailboxes/${encodeURIComponent(target)}/totp-reset`;
    // The gear menu links to a page that asks first; its form does the reset.
    expect(list.text).toContain(`href="${action}"`);
    expect(list.text).toContain('Reset second factor');
    const ask = await c.req('GET', action);
    expect(ask.status).toBe(200);
    expect(ask.text).toContain(`Reset the second factor of ${target}?`);
    expect(ask.text).toContain(`action="${action}"`);
    expect(JSON.parse(await d.cliOk(['totp', 'status', target, '--json'])).enabled).toBe(true);
    expect((await c.req('POST', action, { _csrf: 'wrong' })).status).toBe(403);
    expect(JSON.parse(await d.cliOk(['totp', 'status', target, '--json'])).enabled).toBe(true);
    const done = await c.req('POST', action);
    expect(done.location).toBe(`/domains/example.org?notice=totp_reset&subject=${encodeURIComponent(target)}`);
    expect((await c.req('GET', done.location!)).text).toContain('Second factor of');
    expect(JSON.parse(await d.cliOk(['totp', 'status', target, '--json'])).enabled).toBe(false);
    expect((await c.req('POST', action)).location).toContain('notice=totp_none');
    const [audit] = (await pool.query("SELECT actor FROM audit_log WHERE target = $1 AND action = 'totp.reset'", [target])).rows;
    expect(audit.actor).toContain(admin);
    // The admin whose factor was reset signs in with the password and is sent to enrol again.
    const s = new Client(strict.adminUrl);
    expect((await s.login(target)).location).toBe('/');
    expect((await s.req('GET', '/domains')).location).toBe('/me/totp');
  });
});

const waitForNodes = (invalidationId: string) =>
  waitFor('both nodes applied it', 5_000, async () => (await pool.query('SELECT count(*)::int AS n FROM nodes WHERE applied_invalidation_id >= $1', [invalidationId])).rows[0].n === 2);
