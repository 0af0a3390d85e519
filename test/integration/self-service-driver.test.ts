import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, postJson, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';

/**
 * The routes of Roundcube's `mailpassd` driver (config/roundcube/mailpassd.php):
 * change, policy, policy-check, behind `self_service.secret`. The daemon runs at
 * log level trace, so "never logged" covers everything it writes.
 */
const SECRET = 'roundcube-driver-secret-5c1e9a77';
const PW = 'Correct-Horse-Battery-9';
const MAX_CHECKS = 6;

let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let d: TestDaemon;
let token: string;
let domains = 0;
/** Every candidate and new password sent in this file: none may appear in the daemon's log. */
const sent: string[] = [];

const auth = (secret = SECRET) => ({ authorization: `Bearer ${secret}` });
const call = (daemon: TestDaemon, route: string, body: Record<string, unknown>, headers: Record<string, string> = auth()) =>
  postJson(`${daemon.adminUrl}/v1/self-service/${route}`, body, headers);
const check = (user: string, password: string, lang?: string) => {
  sent.push(password);
  return call(d, 'policy-check', { user, password, ...(lang && { lang }) });
};

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  d = await startTestDaemon({
    databaseUrl: db.url,
    logLevel: 'trace',
    env: {
      MAILPASSD_SELF_SERVICE_SECRET: SECRET,
      MAILPASSD_SELF_SERVICE_MAX_CHECKS_PER_MAILBOX: String(MAX_CHECKS),
      // Nobody is a trusted proxy: an X-Forwarded-For is believed only with the secret.
      MAILPASSD_SELF_SERVICE_TRUSTED_PROXIES: '',
    },
  });
  token = await adminToken(d, 'driver-seed');
}, 120_000);

afterAll(async () => {
  await d?.stop();
  await pool?.end();
  await db?.drop();
});

describe('self-service routes of the Roundcube mailpassd driver', () => {
  /** A mailbox of its own per test (own domain: the per-mailbox throttles start empty). */
  let alice: string;
  beforeEach(async () => {
    const domain = `d${++domains}.example.org`;
    alice = `alice@${domain}`;
    const a = { authorization: `Bearer ${token}` };
    expect((await postJson(`${d.adminUrl}/v1/domains`, { name: domain }, a)).status).toBe(201);
    const m = await postJson(`${d.adminUrl}/v1/mailboxes`, { address: alice, display_name: 'Alice Martin', password: PW }, a);
    expect(m.status, m.text).toBe(201);
  });

  it('answers 401 without the secret, with a wrong one, a prefix or an extension of it; nothing is checked or changed', async () => {
    for (const headers of [{}, auth('wrong-secret-0123456789abcdef'), auth(SECRET.slice(0, -1)), auth(`${SECRET}x`), { authorization: SECRET }]) {
      for (const [route, body] of [
        ['policy', { user: alice }],
        ['policy-check', { user: alice, password: 'Alice-Martin-1234' }],
        ['change', { user: alice, curpass: PW, newpass: 'Velvet-Tundra-Quasar-41' }],
      ] as const) {
        const r = await call(d, route, body, headers);
        expect(r.status, `${route} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.body).toMatchObject({ code: 'unauthorized' });
      }
    }
    expect((await verify(d, alice, PW)).body.result).toBe('ok');
  });

  it('policy: the rules of the mailbox\'s domain, in English or Dutch', async () => {
    const en = await call(d, 'policy', { user: alice, lang: 'en_US' });
    expect(en.status, en.text).toBe(200);
    expect(en.body.lang).toBe('en');
    const codes = en.body.rules.map((r: { code: string }) => r.code);
    expect(codes).toEqual(expect.arrayContaining(['too_short', 'contains_name', 'reused']));
    expect(en.body.rules.find((r: { code: string }) => r.code === 'too_short').text).toMatch(/12/);

    const nl = await call(d, 'policy', { user: alice, lang: 'nl_NL' });
    expect(nl.body.lang).toBe('nl');
    expect(nl.body.rules.map((r: { code: string }) => r.code)).toEqual(codes);
    expect(nl.body.rules.find((r: { code: string }) => r.code === 'too_short').text).not.toBe(en.body.rules.find((r: { code: string }) => r.code === 'too_short').text);

    // A domain's own policy shows.
    const domain = alice.split('@')[1]!;
    const p = await fetch(`${d.adminUrl}/v1/domains/${domain}/policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ minLength: 16 }),
    });
    expect(p.status, await p.text()).toBe(200);
    const after = await call(d, 'policy', { user: alice });
    expect(after.body.rules.find((r: { code: string }) => r.code === 'too_short').text).toMatch(/16/);
  });

  it('policy-check: violations with their texts and a score; the same rules as a change, history included', async () => {
    const audited = async () => (await pool.query('SELECT count(*)::int AS n FROM audit_log WHERE target = $1', [alice])).rows[0].n as number;
    const auditBefore = await audited();
    const personal = await check(alice, 'Martin-Quasar-Tundra-77');
    expect(personal.status, personal.text).toBe(200);
    expect(personal.body.ok).toBe(false);
    expect(personal.body.violations).toEqual([{ code: 'contains_name', message: expect.stringMatching(/name/) }]);
    expect(personal.body.score).toBeGreaterThanOrEqual(0);

    const nl = await check(alice, 'Martin-Quasar-Tundra-77', 'nl_NL');
    expect(nl.body.violations[0].message).toMatch(/naam/);

    const good = await check(alice, 'Velvet-Tundra-Quasar-41');
    expect(good.body).toMatchObject({ ok: true, violations: [] });
    expect(good.body.score).toBeGreaterThanOrEqual(3);

    // The current password is in the history: reuse is named.
    const reuse = await check(alice, PW);
    expect(reuse.body.violations.map((v: { code: string }) => v.code)).toEqual(['reused']);
    expect(reuse.body.violations[0].message).toMatch(/used before/);

    // Nothing was stored: the password is unchanged, no audit entry.
    expect((await verify(d, alice, PW)).body.result).toBe('ok');
    expect(await audited()).toBe(auditBefore);
  });

  it('policy-check is throttled per mailbox, whatever the result', async () => {
    for (let i = 0; i < MAX_CHECKS; i++) expect((await check(alice, `Velvet-Tundra-Quasar-${i}x`)).status).toBe(200);
    const r = await check(alice, 'Velvet-Tundra-Quasar-last');
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'throttled' });
  });

  it('change: a refusal names the failed rules in the asked language; success answers {result: ok} and the new password works', async () => {
    sent.push('Martin-Quasar-Tundra-77', 'Velvet-Tundra-Quasar-41');
    const refusedNl = await call(d, 'change', { user: alice, curpass: PW, newpass: 'Martin-Quasar-Tundra-77', lang: 'nl_NL' });
    expect(refusedNl.status, refusedNl.text).toBe(422);
    expect(refusedNl.body).toMatchObject({ code: 'policy_refused', lang: 'nl', violations: [{ code: 'contains_name', message: expect.stringMatching(/naam/) }] });
    expect(refusedNl.body.detail).toBe(refusedNl.body.violations[0].message);

    const reused = await call(d, 'change', { user: alice, curpass: PW, newpass: PW });
    expect(reused.body).toMatchObject({ code: 'policy_refused', violations: [{ code: 'reused', message: expect.stringMatching(/used before/) }] });

    const wrong = await call(d, 'change', { user: alice, curpass: 'not-the-password', newpass: 'Velvet-Tundra-Quasar-41' });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ code: 'wrong_current_password' });

    const ok = await call(d, 'change', { user: alice, curpass: PW, newpass: 'Velvet-Tundra-Quasar-41' }, { ...auth(), 'x-forwarded-for': '203.0.113.7' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ result: 'ok' });
    expect((await verify(d, alice, 'Velvet-Tundra-Quasar-41')).body.result).toBe('ok');
    expect((await verify(d, alice, PW)).body.result).toBe('password_mismatch');
    // With the secret the forwarded end-user address is believed, though no proxy is trusted.
    const audit = await pool.query("SELECT source_ip FROM audit_log WHERE target = $1 AND action = 'password.self_service'", [alice]);
    expect(audit.rows).toEqual([{ source_ip: '203.0.113.7' }]);
  });

  it('the httpapi route still believes X-Forwarded-For only from trusted proxies', async () => {
    sent.push('Velvet-Tundra-Quasar-42');
    const res = await fetch(`${d.adminUrl}/v1/self-service/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.8' },
      body: new URLSearchParams({ user: alice, curpass: PW, newpass: 'Velvet-Tundra-Quasar-42' }).toString(),
    });
    expect(res.status).toBe(200);
    const audit = await pool.query("SELECT source_ip FROM audit_log WHERE target = $1 AND action = 'password.self_service'", [alice]);
    expect(audit.rows).toEqual([{ source_ip: '127.0.0.1' }]);
  });

  it('the routes are in /openapi.json, behind the self-service secret', async () => {
    const doc = (await (await fetch(`${d.adminUrl}/openapi.json`)).json()) as any;
    expect(doc.components.securitySchemes.selfServiceSecret).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const route of ['change', 'policy', 'policy-check']) {
      const op = doc.paths[`/v1/self-service/${route}`].post;
      expect(op.security, route).toEqual([{ selfServiceSecret: [] }]);
      expect(op.responses, route).toHaveProperty('200');
      expect(op.responses, route).toHaveProperty('401');
    }
  });

  it('no candidate, new or current password appears in the daemon\'s log (level trace)', async () => {
    // Runs last in this file; the earlier tests sent them.
    expect(sent.length).toBeGreaterThan(5);
    const log = d.logs();
    expect(log).toContain('self-service refused');
    for (const p of [...sent, PW]) expect(log, p).not.toContain(p);
    expect(log).not.toContain(SECRET);
  });
});

describe('without self_service.secret', () => {
  let plain: TestDaemon;
  beforeAll(async () => {
    plain = await startTestDaemon({ databaseUrl: db.url, nodeId: 'driver-plain' });
  }, 60_000);
  afterAll(async () => {
    await plain?.stop();
  });

  it('the driver routes answer 404 self_service_driver_off, with or without an Authorization header', async () => {
    for (const headers of [{}, auth()]) {
      for (const route of ['policy', 'policy-check', 'change']) {
        const r = await call(plain, route, { user: 'x@example.org', password: 'Velvet-Tundra-Quasar-43' }, headers);
        expect(r.status, route).toBe(404);
        expect(r.body).toMatchObject({ code: 'self_service_driver_off' });
      }
    }
  });
});
