import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ROOT } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, postJson, seedMailbox, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';
import { waitFor as until } from '../helpers/wait.js';
import { hashPassword } from '../../src/auth/hash.js';
import { MAX_PASSWORD_BYTES } from '../../src/policy/password-input.js';

/**
 * `POST /v1/self-service/password` as Roundcube's password plugin (`httpapi`
 * driver, see shared/reference/roundcube.md) calls it: form-encoded `user`,
 * `curpass`, `newpass`, no token, success = a 2xx whose body matches /^ok$/.
 */
let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let d: TestDaemon;
let token: string;
let domains = 0;

const PW = 'Correct-Horse-Battery-9';

interface Res {
  status: number;
  type: string;
  text: string;
  body: any;
}

/** Exactly what Guzzle's `form_params` sends for the configured fields (PHP's http_build_query encoding). */
async function roundcube(fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(`${d.adminUrl}/v1/self-service/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'GuzzleHttp/7', ...headers },
    body: new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* `ok` is plain text */
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, body };
}

async function asJson(fields: Record<string, unknown>): Promise<Res> {
  const r = await postJson(`${d.adminUrl}/v1/self-service/password`, fields);
  return { ...r, type: '' };
}

async function q<T extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query<T>(text, values)).rows;
}

async function state(address: string) {
  const [row] = await q('SELECT password_hash, credential_version, updated_at FROM mailboxes WHERE address = $1', [address]);
  const [h] = await q('SELECT count(*)::int AS n FROM password_history h JOIN mailboxes m ON m.id = h.mailbox_id WHERE m.address = $1', [address]);
  const [a] = await q('SELECT count(*)::int AS n FROM audit_log');
  const [i] = await q('SELECT count(*)::int AS n FROM invalidations');
  return { row, history: h.n, audit: a.n, invalidations: i.n };
}

/** Resolves once a mailpassd session waits for a lock held by the test. */
async function lockWaiter(): Promise<void> {
  await until('a mailpassd session to wait for the lock', 10_000, async () => {
    const [w] = await q("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mailpassd' AND wait_event_type = 'Lock'");
    return w.n > 0;
  }, 20);
}

function expectProblem(r: Res, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.body).toMatchObject({ status, code, type: `urn:mailpassd:error:${code}`, detail: expect.any(String) });
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  d = await startTestDaemon({ databaseUrl: db.url, nodeId: 'self-service-node' });
  await seedMailbox(d, 'bob@example.org', PW, 'Bob Stone'); // creates the domain first
  await Promise.all([
    seedMailbox(d, 'carol@example.org', PW, 'Carol King'),
    seedMailbox(d, 'dave@example.org', PW, 'Dave Brown'),
    adminToken(d, 'self-service-seed').then((t) => (token = t)),
  ]);
}, 120_000);

afterAll(async () => {
  await d?.stop();
  await pool?.end();
  await db?.drop();
});

describe('self-service password change (Roundcube httpapi driver)', () => {
  /**
   * Alice's password changes in many tests: each test gets an Alice of its own,
   * with PW, in a domain of its own so that her local part stays `alice`.
   */
  let alice: string;
  beforeEach(async () => {
    const domain = `s${++domains}.example.org`;
    alice = `alice@${domain}`;
    const auth = { authorization: `Bearer ${token}` };
    const dom = await postJson(`${d.adminUrl}/v1/domains`, { name: domain }, auth);
    expect(dom.status, dom.text).toBe(201);
    const m = await postJson(`${d.adminUrl}/v1/mailboxes`, { address: alice, display_name: 'Alice Martin', password: PW }, auth);
    expect(m.status, m.text).toBe(201);
  });

  it('form-encoded user/curpass/newpass without a token: 200, body exactly "ok"; the new password works, the old not', async () => {
    const next = 'Velvet-Tundra-Quasar-41';
    const before = await state(alice);
    const r = await roundcube({ user: alice, curpass: PW, newpass: next });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('ok');
    expect(r.text).toMatch(/^ok$/); // password_httpapi_expect
    expect(r.type).toMatch(/^text\/plain/);
    expect((await verify(d, alice, PW)).body.result).toBe('password_mismatch');
    expect((await verify(d, alice, next)).body.result).toBe('ok');

    const after = await state(alice);
    expect(after.row.credential_version).toBe(before.row.credential_version + 1);
    expect(after.history).toBe(before.history + 1);
    const [audit] = await q('SELECT actor, action, source_ip, details FROM audit_log WHERE target = $1 ORDER BY id DESC LIMIT 1', [alice]);
    expect(audit).toMatchObject({ actor: `self:${alice}`, action: 'password.self_service', source_ip: '127.0.0.1' });
    expect(JSON.stringify(audit)).not.toMatch(/Velvet|Correct-Horse|argon2/);
    const [inv] = await q('SELECT reason, kick FROM invalidations WHERE address = $1 ORDER BY id DESC LIMIT 1', [alice]);
    expect(inv).toEqual({ reason: 'self_service', kick: true });
    expect(d.logs()).not.toContain(next);
  });

  it('the shipped httpapi settings (config/roundcube/password-httpapi.inc.php) name everything the driver needs, and drive a change', async () => {
    const php = readFileSync(path.join(ROOT, 'config', 'roundcube', 'password-httpapi.inc.php'), 'utf8');
    const setting = (key: string) => {
      const m = new RegExp(`^\\$config\\['${key}'\\]\\s*=\\s*(.+);\\s*$`, 'm').exec(php);
      expect(m, key).not.toBeNull();
      return m![1]!.trim();
    };
    const str = (key: string) => /^'([^']*)'$/.exec(setting(key))?.[1];
    expect(str('password_driver')).toBe('httpapi');
    expect(str('password_httpapi_method')).toBe('POST');
    expect(setting('password_http_client')).toMatch(/'http_errors'\s*=>\s*false/);
    const url = new URL(str('password_httpapi_url')!);
    expect(url.port).toBe('7412'); // the admin listener's default, not the auth listener's 7411
    const vars = { user: str('password_httpapi_var_user')!, curpass: str('password_httpapi_var_curpass')!, newpass: str('password_httpapi_var_newpass')! };
    expect(vars).toEqual({ user: 'user', curpass: 'curpass', newpass: 'newpass' });
    const expectRe = /^'\/(.*)\/([a-z]*)'$/.exec(setting('password_httpapi_expect'))!;
    const expectOk = new RegExp(expectRe[1]!, expectRe[2]);

    // The driver's request, against this test's daemon: same path, same field names.
    const next = 'Meadow-Bronze-Signal-62';
    const res = await fetch(`${d.adminUrl}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ [vars.user]: 'dave@example.org', [vars.curpass]: PW, [vars.newpass]: next }).toString(),
    });
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).toMatch(expectOk);
    // A refusal must not match `expect` (so a misconfigured http_errors still shows "could not save").
    const refused = await roundcube({ user: 'dave@example.org', curpass: next, newpass: next });
    expect(refused.status).toBe(422);
    expect(refused.text).not.toMatch(expectOk);
    expect((await verify(d, 'dave@example.org', next)).body.result).toBe('ok');
  });

  it('JSON works the same, and the user name is matched case-insensitively', async () => {
    const next = 'Orbit-Lantern-Mosaic-73';
    const r = await asJson({ user: alice.toUpperCase(), curpass: PW, newpass: next });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('ok');
    expect((await verify(d, alice, PW)).body.result).toBe('password_mismatch');
    expect((await verify(d, alice, next)).body.result).toBe('ok');
  });

  it('carries form-encoding specials and UTF-8 in passwords unchanged (+ & = % space é)', async () => {
    const next = 'Zèbre & Cie = 100% + sûr';
    const r = await roundcube({ user: alice, curpass: PW, newpass: next });
    expect(r.status, r.text).toBe(200);
    expect((await verify(d, alice, next)).body.result).toBe('ok');
    // And back through the form as the current password.
    const again = 'Juniper-Compass-Ripple-26';
    expect((await roundcube({ user: alice, curpass: next, newpass: again })).text).toBe('ok');
    expect((await verify(d, alice, again)).body.result).toBe('ok');
  });

  it('403 for a wrong current password, an unknown user and a disabled mailbox — one answer, nothing changed', async () => {
    const before = await state(alice);
    const wrong = await roundcube({ user: alice, curpass: 'not-the-password', newpass: 'Saffron-Glacier-Pivot-58' });
    expectProblem(wrong, 403, 'wrong_current_password');
    const unknown = await roundcube({ user: 'nobody@example.org', curpass: 'whatever-it-is', newpass: 'Saffron-Glacier-Pivot-58' });
    expectProblem(unknown, 403, 'wrong_current_password');
    expect(unknown.text).toBe(wrong.text);
    expect(await state(alice)).toEqual(before);
    expect((await verify(d, alice, PW)).body.result).toBe('ok');

    const [{ credential_version: carolVersion }] = await q("SELECT credential_version FROM mailboxes WHERE address = 'carol@example.org'");
    await q("UPDATE mailboxes SET enabled = false, disabled_reason = 'unpaid' WHERE address = 'carol@example.org'");
    try {
      const disabled = await roundcube({ user: 'carol@example.org', curpass: PW, newpass: 'Saffron-Glacier-Pivot-58' });
      expectProblem(disabled, 403, 'wrong_current_password');
      expect(disabled.text).not.toMatch(/unpaid|disabled/);
      expect((await q("SELECT credential_version FROM mailboxes WHERE address = 'carol@example.org'"))[0].credential_version).toBe(carolVersion);
    } finally {
      await q("UPDATE mailboxes SET enabled = true, disabled_reason = NULL WHERE address = 'carol@example.org'");
    }
  });

  it('422 naming the failed rules for a password the policy refuses, nothing changed', async () => {
    // Changed once, so that PW is an earlier password and `current` the one in force.
    const current = 'Quill-Saffron-Meadow-52';
    expect((await roundcube({ user: alice, curpass: PW, newpass: current })).text).toBe('ok');
    const before = await state(alice);
    const personal = await roundcube({ user: alice, curpass: current, newpass: 'Alice-Martin-1990' });
    expectProblem(personal, 422, 'policy_refused');
    expect(personal.body.violations.map((v: { code: string }) => v.code)).toEqual(expect.arrayContaining(['contains_local_part', 'contains_name', 'contains_date']));
    expect(personal.body.detail).toMatch(/\[contains_name\]/);
    expect(personal.text).not.toContain('Alice-Martin-1990');

    const reuse = await roundcube({ user: alice, curpass: current, newpass: current });
    expectProblem(reuse, 422, 'policy_refused');
    expect(reuse.body.violations.map((v: { code: string }) => v.code)).toEqual(['reused']);
    const older = await roundcube({ user: alice, curpass: current, newpass: PW });
    expect(older.body.violations.map((v: { code: string }) => v.code)).toEqual(['reused']);

    const short = await asJson({ user: alice, curpass: current, newpass: 'Xq7#' });
    expectProblem(short, 422, 'policy_refused');
    expect(short.body.violations.map((v: { code: string }) => v.code)).toContain('too_short');

    const empty = await roundcube({ user: alice, curpass: current, newpass: '' });
    expectProblem(empty, 422, 'password_empty');

    expect(await state(alice)).toEqual(before);
    expect((await verify(d, alice, current)).body.result).toBe('ok');
  });

  it('an expired password may still be used to choose a new one', async () => {
    await q("UPDATE mailboxes SET password_expires_at = now() - interval '1 day' WHERE address = $1", [alice]);
    expect((await verify(d, alice, PW)).body.result).toBe('pass_expired');
    const next = 'Amber-Harbor-Falcon-07x';
    const r = await roundcube({ user: alice, curpass: PW, newpass: next });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('ok');
    expect((await verify(d, alice, next)).body.result).toBe('ok');
  });

  it('refuses malformed requests with 400 and never accepts GET (passwords would land in access logs)', async () => {
    const before = await state(alice);
    expectProblem(await roundcube({ user: alice, curpass: PW }), 400, 'invalid_request');
    expectProblem(await roundcube({ user: alice, curpass: PW, newpass: 'Saffron-Glacier-Pivot-58', extra: 'x' }), 400, 'invalid_request');
    expectProblem(await asJson({ user: alice, curpass: PW, newpass: 12345678901234 }), 400, 'invalid_request');
    const get = await fetch(`${d.adminUrl}/v1/self-service/password?${new URLSearchParams({ user: alice, curpass: PW, newpass: 'Saffron-Glacier-Pivot-58' })}`);
    expect(get.status).toBe(404);
    expect(await state(alice)).toEqual(before);
  });

  it('refuses form bodies that are not UTF-8 or not valid percent-encoding (400) instead of setting a password nobody typed', async () => {
    const before = await state(alice);
    const post = async (body: Buffer | string) => {
      const res = await fetch(`${d.adminUrl}/v1/self-service/password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const text = await res.text();
      return { status: res.status, type: '', text, body: JSON.parse(text) } as Res;
    };
    const prefix = `user=${encodeURIComponent(alice)}&curpass=${encodeURIComponent(PW)}&newpass=`;
    // A Latin-1 client: the raw byte 0xE9 for é, and its percent-encoded form %E9.
    expectProblem(await post(Buffer.concat([Buffer.from(`${prefix}Velvet`), Buffer.from([0xe9]), Buffer.from('Tundra-Quasar-99')])), 400, 'invalid_utf8');
    expectProblem(await post(`${prefix}Velvet%E9Tundra-Quasar-99`), 400, 'invalid_form');
    expectProblem(await post(`${prefix}Velvet%ZZTundra-Quasar-99`), 400, 'invalid_form');
    // A field given twice is ambiguous, not "the last one wins".
    expectProblem(await post(`${prefix}Saffron-Glacier-Pivot-58&newpass=Orbit-Lantern-Mosaic-99`), 400, 'invalid_request');
    expect(await state(alice)).toEqual(before);
    expect((await verify(d, alice, PW)).body.result).toBe('ok');
  });

  it('caps curpass and newpass at the auth listener\'s byte limit, before argon2', async () => {
    const before = await state(alice);
    expectProblem(await roundcube({ user: alice, curpass: 'x'.repeat(MAX_PASSWORD_BYTES + 1), newpass: 'Saffron-Glacier-Pivot-58' }), 400, 'invalid_request');
    expectProblem(await roundcube({ user: alice, curpass: PW, newpass: 'x'.repeat(MAX_PASSWORD_BYTES + 1) }), 400, 'invalid_request');
    // Characters under the cap, bytes over it (é is two bytes in UTF-8).
    expectProblem(await roundcube({ user: alice, curpass: 'é'.repeat(MAX_PASSWORD_BYTES / 2 + 1), newpass: 'Saffron-Glacier-Pivot-58' }), 400, 'password_too_long');
    expectProblem(await roundcube({ user: alice, curpass: PW, newpass: 'é'.repeat(MAX_PASSWORD_BYTES / 2 + 1) }), 422, 'password_too_long');
    expect(await state(alice)).toEqual(before);
  });

  it('refuses a cross-site Origin (403 cross_origin) before reading the body; its own origin and no Origin at all are served', async () => {
    const before = await state(alice);
    for (const origin of ['https://evil.example', 'null', `http://localhost.evil.example:${new URL(d.adminUrl).port}`]) {
      const r = await roundcube({ user: alice, curpass: PW, newpass: 'Saffron-Glacier-Pivot-58' }, { origin });
      expectProblem(r, 403, 'cross_origin');
    }
    expect(await state(alice)).toEqual(before);
    const next = 'Harbor-Velvet-Compass-33';
    const same = await roundcube({ user: alice, curpass: PW, newpass: next }, { origin: new URL(d.adminUrl).origin });
    expect(same.status, same.text).toBe(200);
    await until('the cross-origin refusal in the log', 5_000, () => /"origin":"https:\/\/evil.example".*"reason":"cross_origin".*"msg":"self-service refused"/.test(d.logs()));
  });

  it('binds the change to the credential version verified: an admin rotation in between wins (409), nothing overwritten', async () => {
    const addr = 'erin@example.org';
    await seedMailbox(d, addr, PW, 'Erin Wolfe');
    const adminPw = 'Granite-Orchid-Lattice-85';
    const holder = await pool.connect();
    try {
      // Hold the row the change's commit locks; the self-service request verifies, then waits there.
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM mailboxes WHERE address = $1 FOR UPDATE', [addr]);
      const changing = roundcube({ user: addr, curpass: PW, newpass: 'Lantern-Quarry-Meadow-19' });
      await lockWaiter();
      // What an administrator's rotation commits meanwhile: a new hash and the next credential version.
      const hash = await hashPassword(adminPw, { memory_cost: 4096, time_cost: 1, parallelism: 1 });
      await holder.query('UPDATE mailboxes SET password_hash = $2, credential_version = credential_version + 1 WHERE address = $1', [addr, hash]);
      await holder.query('COMMIT');
      const r = await changing;
      expectProblem(r, 409, 'credential_changed');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    expect((await verify(d, addr, adminPw)).body.result).toBe('ok');
    expect((await verify(d, addr, 'Lantern-Quarry-Meadow-19')).body.result).toBe('password_mismatch');
    expect((await q('SELECT credential_version FROM mailboxes WHERE address = $1', [addr]))[0].credential_version).toBe(2);
  });

  it('binds the change to the state verified: a disable through the admin API in between wins (409), the password is not changed', async () => {
    const addr = 'frank@example.org';
    await seedMailbox(d, addr, PW, 'Frank Ocean');
    const token = await adminToken(d, 'self-service-admin');
    const holder = await pool.connect();
    try {
      // Hold up the change after its check (reading the password history), while the admin's disable, which needs no history, goes through.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE password_history IN ACCESS EXCLUSIVE MODE');
      const changing = roundcube({ user: addr, curpass: PW, newpass: 'Lantern-Quarry-Meadow-19' });
      await lockWaiter();
      const disabled = await fetch(`${d.adminUrl}/v1/mailboxes/${addr}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled: false, disabled_reason: 'left the company' }),
      });
      expect(disabled.status).toBe(200);
      await holder.query('COMMIT');
      expectProblem(await changing, 409, 'credential_changed');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    const [row] = await q('SELECT enabled, credential_version FROM mailboxes WHERE address = $1', [addr]);
    expect(row).toEqual({ enabled: false, credential_version: 1 });
  });

  it('has its own throttle, by mailbox: one user\'s wrong guesses through the webmail host lock neither other users nor anyone\'s logins', async () => {
    const before = await state('bob@example.org');
    const limit = 10; // self_service.max_failures_per_mailbox default
    for (let i = 0; i < limit; i++) {
      const r = await roundcube({ user: 'bob@example.org', curpass: `wrong-guess-${i}`, newpass: 'Saffron-Glacier-Pivot-58' });
      expectProblem(r, 403, 'wrong_current_password');
    }
    const blocked = await roundcube({ user: 'bob@example.org', curpass: PW, newpass: 'Saffron-Glacier-Pivot-58' });
    expectProblem(blocked, 429, 'throttled');
    expect(await state('bob@example.org')).toEqual(before);
    // The webmail host's IMAP logins (its address as remote_ip) are not charged by self-service.
    const login = await verify(d, 'bob@example.org', PW, { remote_ip: '127.0.0.1' });
    expect(login.body.result).toBe('ok');
    // Other mailboxes changed through the same webmail host are not affected.
    const next = 'Cobalt-Harbor-Falcon-17x';
    expect((await roundcube({ user: alice, curpass: PW, newpass: next })).text).toBe('ok');
    // Refusals are logged with the mailbox and addresses, never a password.
    const lines = () => d.logs().split('\n').filter((l) => l.includes('self-service refused') && l.includes('bob@example.org'));
    await until('the throttled refusal in the log', 5_000, () => lines().some((l) => /"reason":"throttled"/.test(l) && /"peer_ip":"127\.0\.0\.1"/.test(l) && /"limit":"mailbox"/.test(l)));
    expect(lines().some((l) => /"reason":"wrong_current_password"/.test(l) && /"result":"password_mismatch"/.test(l))).toBe(true);
    expect(d.logs()).not.toMatch(/wrong-guess-|Saffron-Glacier|Correct-Horse/);
    const metrics = await (await fetch(`${d.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^mailpassd_throttled_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^mailpassd_rotations_total\{reason="self_service"\} [1-9]\d*$/m);
  });

  it('a hundred wrong guesses for many users through one webmail host leave everyone else\'s self-service and logins working', async () => {
    for (let i = 0; i < 110; i++) {
      expectProblem(await roundcube({ user: `nobody-${i}@example.org`, curpass: 'whatever-it-is', newpass: 'Saffron-Glacier-Pivot-58' }), 403, 'wrong_current_password');
    }
    await Promise.all([seedMailbox(d, 'gina@example.org', PW, 'Gina Park'), seedMailbox(d, 'hank@example.org', PW, 'Hank Hill')]);
    const r = await roundcube({ user: 'gina@example.org', curpass: PW, newpass: 'Prairie-Beacon-Walnut-64' });
    expect(r.status, r.text).toBe(200);
    expect((await verify(d, 'hank@example.org', PW, { remote_ip: '127.0.0.1' })).body.result).toBe('ok');
  });

  it('counts by the end user\'s address when a trusted caller forwards it (X-Forwarded-For), and ignores the header from anyone else', async () => {
    const addr = 'ivan@example.org';
    await seedMailbox(d, addr, PW, 'Ivan Drago');
    const limit = 30; // self_service.max_failures_per_client_ip default
    for (let i = 0; i < limit; i++) {
      const r = await roundcube({ user: `guess-${i}@example.org`, curpass: 'whatever-it-is', newpass: 'Saffron-Glacier-Pivot-58' }, { 'x-forwarded-for': '203.0.113.7' });
      expectProblem(r, 403, 'wrong_current_password');
    }
    // That address is cut off, even with the right password of a real mailbox...
    const cut = await roundcube({ user: addr, curpass: PW, newpass: 'Saffron-Glacier-Pivot-58' }, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' });
    expectProblem(cut, 429, 'throttled');
    // The daemon's log stream is asynchronous: the line may follow the answer.
    await until('the client_ip refusal in the log', 5_000, () => /"client_ip":"203\.0\.113\.7".*"limit":"client_ip".*"reason":"throttled"/.test(d.logs()));
    // ...another end user behind the same webmail host is not.
    const next = 'Sable-Thistle-Quorum-48';
    const other = await roundcube({ user: addr, curpass: PW, newpass: next }, { 'x-forwarded-for': '203.0.113.8' });
    expect(other.status, other.text).toBe(200);
    const [audit] = await q("SELECT source_ip FROM audit_log WHERE target = 'ivan@example.org' AND action = 'password.self_service' ORDER BY id DESC LIMIT 1");
    expect(audit.source_ip).toBe('203.0.113.8');

    // A daemon that trusts no proxy on loopback takes no address from the header: every request is counted by mailbox only.
    const strict = await startTestDaemon({
      databaseUrl: db.url,
      nodeId: 'self-service-strict',
      env: { MAILPASSD_SELF_SERVICE_TRUSTED_PROXIES: '10.0.0.0/8', MAILPASSD_SELF_SERVICE_MAX_FAILURES_PER_CLIENT_IP: '2', MAILPASSD_SELF_SERVICE_ALLOWED_ORIGINS: 'https://webmail.example' },
    });
    try {
      const post = (fields: Record<string, string>, headers: Record<string, string>) =>
        fetch(`${strict.adminUrl}/v1/self-service/password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
      for (let i = 0; i < 3; i++) expect((await post({ user: `forged-${i}@example.org`, curpass: 'whatever-it-is', newpass: 'x' }, { 'x-forwarded-for': '192.0.2.9' })).status).toBe(403);
      const last = 'Tundra-Marble-Sprocket-52';
      const r = await post({ user: addr, curpass: next, newpass: last }, { 'x-forwarded-for': '192.0.2.9', origin: 'https://webmail.example' });
      expect(r.status, await r.text()).toBe(200);
      expect(strict.logs()).not.toContain('192.0.2.9');
    } finally {
      await strict.stop();
    }
  });
});
