/**
 * App passwords through real Dovecots with their auth cache ON (one-hour TTL)
 * and the shipped Lua passdb: 2.3.19 (+ Postfix SMTP AUTH through its SASL
 * socket) and 2.4.1 (Debian 13 chroot).
 *
 * Revocation: 2.4 registers the userdb field `user_app_password=<id>` (sent by
 * the passdb as `userdb_user_app_password`) with anvil as an alternative user
 * name (`doveadm who -1` shows it as a column), and
 * `doveadm kick -f user_app_password <id>` ends only the sessions that logged
 * in with it (app_passwords.kick_by_field = true). 2.3's
 * `doveadm kick` knows only user names and IPs (its `-f` means "force"), so
 * there the mailbox's sessions are kicked and the answer says `kicked: "mailbox"`.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminToken, postJson, type TestDaemon } from '../helpers/daemon.js';
import { makeTempDir, startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { chrootDoveadmWrapper, startDovecot24, TRIXIE_DIR } from '../helpers/dovecot24.js';
import { freshLoopback, ImapSession, imapLogin } from '../helpers/imap.js';
import { startPostfix, swaksAuth, type PostfixInstance } from '../helpers/postfix.js';
import { expectKicked, REFUSED, RotationScenario, WAIT_OK_MS } from '../helpers/rotation-scenario.js';
import { requireParts } from '../helpers/parts.js';
import { waitFor } from '../helpers/wait.js';
import { ConsoleClient } from '../helpers/console-client.js';
import { Secret, TOTP } from 'otpauth';

const MAIN = 'Harbor-Quartz-Lupine-47-Sextant';
const OK = /^a1 OK .*Logged in/;
/** The expiry sweep every half second on every daemon (shipped: 30 s), so the expiry scenario runs in seconds. */
const SWEEP = { MAILPASSD_APP_PASSWORDS_EXPIRY_SWEEP_INTERVAL_MS: '500' };

interface Setup {
  backend: E2eBackend;
  dc: DovecotInstance;
  token: string;
  node: TestDaemon;
  domain: string;
}

async function addApp(s: Setup, address: string, name: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await postJson(`${s.backend.daemon.adminUrl}/v1/mailboxes/${address}/app-passwords`, { name, ...body }, { authorization: `Bearer ${s.token}` });
  expect(r.status, r.text).toBe(201);
  return r.body.password as string;
}

async function revoke(s: Setup, address: string, name: string) {
  const res = await fetch(`${s.backend.daemon.adminUrl}/v1/mailboxes/${address}/app-passwords/${name}?wait_ms=${WAIT_OK_MS}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { complete: boolean; kicked: string; nodes: Array<{ node_id: string; applied: boolean; kicked: string }> };
}

const login = (s: Setup, user: string, password: string) => imapLogin(s.dc.imapPort, user, password, { localAddress: freshLoopback() });

async function session(s: Setup, user: string, password: string): Promise<ImapSession> {
  const imap = await ImapSession.open(s.dc.imapPort, { localAddress: freshLoopback() });
  expect((await imap.login(user, password)).line).toMatch(OK);
  return imap;
}

async function stillThere(imap: ImapSession): Promise<void> {
  expect((await imap.command('NOOP', 10_000)).line).toMatch(/^a\d+ OK/);
}

let counter = 0;
async function account(s: Setup): Promise<string> {
  const address = `user${++counter}@${s.domain}`;
  await s.backend.mailbox(address, MAIN);
  return address;
}

/** The scenarios both versions share. */
function commonScenarios(get: () => Setup) {
  it('IMAP login with an app password; a scope-limited one is refused outside its scope; an expired one is refused', async () => {
    const s = get();
    const a = await account(s);
    const phone = await addApp(s, a, 'Phone');
    expect((await login(s, a, phone)).line).toMatch(OK);
    const smtpOnly = await addApp(s, a, 'Printer', { scopes: ['smtp'] });
    expect((await login(s, a, smtpOnly)).line).toBe(REFUSED);
    const old = await addApp(s, a, 'Old', { expires_in_days: 1 });
    await s.backend.daemon.cliOk(['app-password', 'list', a]); // the row exists
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: s.backend.cluster.url, max: 1 });
    try {
      await pool.query("UPDATE app_passwords SET expires_at = now() - interval '1 second' WHERE name = 'Old'");
    } finally {
      await pool.end();
    }
    expect((await login(s, a, old)).line).toBe(REFUSED);
    expect((await login(s, a, phone)).line).toMatch(OK);
  });

  it('expiry while cached: Dovecot keeps accepting it from its cache until the sweep flushes it on every node; then it is refused', async () => {
    const s = get();
    const a = await account(s);
    const soon = await addApp(s, a, 'Soon', { expires_in_days: 1 });
    expect((await login(s, a, soon)).line).toMatch(OK); // now in Dovecot's cache (TTL one hour)
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: s.backend.cluster.url, max: 2 });
    const holder = await pool.connect();
    try {
      // The gap the sweep closes: with the sweep held off, the expired app password still logs in, from the cache.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(7411000015)');
      await pool.query("UPDATE app_passwords SET expires_at = now() WHERE name = 'Soon'");
      expect((await login(s, a, soon)).line).toMatch(OK);
      await holder.query('ROLLBACK');
      const applied = async () => {
        const r = await pool.query(
          `SELECT i.id FROM invalidations i JOIN nodes n ON n.node_id = $2 AND n.applied_invalidation_id >= i.id
           WHERE i.address = $1 AND i.reason = 'app_password_expired'`,
          [a, s.node.nodeId],
        );
        return r.rowCount === 1;
      };
      await waitFor('the expiry swept and applied on the Dovecot node', 10_000, applied, 100);
    } finally {
      holder.release();
      await pool.end();
    }
    expect((await login(s, a, soon)).line).toBe(REFUSED);
    expect((await login(s, a, MAIN)).line).toMatch(OK);
  });

  it('TOTP: enrolment flushes the user from Dovecot\'s cache, so a cached main password stops opening mail at once (app passwords keep working); after a reset it opens mail again', async () => {
    const s = get();
    const a = await account(s);
    const phone = await addApp(s, a, 'Phone');
    expect((await login(s, a, MAIN)).line).toMatch(OK); // now in Dovecot's cache (TTL one hour)
    const c = new ConsoleClient(s.backend.daemon.adminUrl);
    expect((await c.login(a, MAIN)).location).toBe('/');
    const page = await c.req('GET', '/me/totp');
    const secret = /data-totp-secret[^>]*>([A-Z2-7]+)</.exec(page.text)![1]!;
    const code = new TOTP({ issuer: 'mailpassd', label: a, secret: Secret.fromBase32(secret) }).generate();
    expect((await c.req('POST', '/me/totp/confirm', { code })).status).toBe(200);
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: s.backend.cluster.url, max: 1 });
    try {
      const applied = async () =>
        (
          await pool.query(
            `SELECT 1 FROM invalidations i JOIN nodes n ON n.node_id = $2 AND n.applied_invalidation_id >= i.id
             WHERE i.address = $1 AND i.reason = 'totp_enabled'`,
            [a, s.node.nodeId],
          )
        ).rowCount === 1;
      await waitFor('the enrolment flushed on the Dovecot node', 10_000, applied, 100);
    } finally {
      await pool.end();
    }
    expect((await login(s, a, MAIN)).line).toBe(REFUSED);
    expect((await login(s, a, phone)).line).toMatch(OK);
    // The reset flushes nothing and needs not: refusals are not cached (auth_cache_negative_ttl = 0).
    expect(JSON.parse(await s.backend.daemon.cliOk(['totp', 'reset', a, '--json']))).toMatchObject({ address: a, was_enabled: true });
    expect((await login(s, a, MAIN)).line).toMatch(OK);
  });

  it('cache on: phone (app password) and laptop (main password) alternate, a wrong guess in between; both keep working; a revoked app password is refused at once', async () => {
    const s = get();
    const a = await account(s);
    const phone = await addApp(s, a, 'Phone');
    for (let round = 0; round < 3; round++) {
      expect((await login(s, a, phone)).line, `phone ${round}`).toMatch(OK);
      expect((await login(s, a, MAIN)).line, `laptop ${round}`).toMatch(OK);
      expect((await login(s, a, 'Wrong-Guess-Entirely-12')).line).toBe(REFUSED);
    }
    // Both are cached, each in an entry of its own (user + the password's SHA-256), and one flush drops both.
    const flushed = await s.dc.doveadm(['auth', 'cache', 'flush', a]);
    expect(flushed.stdout).toMatch(/^([2-9]|\d{2,}) cache entries flushed$/m);
    expect((await login(s, a, MAIN)).line).toMatch(OK);
    expect((await login(s, a, phone)).line).toMatch(OK); // now in Dovecot's cache
    const r = await revoke(s, a, 'Phone');
    expect(r.complete).toBe(true);
    expect((await login(s, a, phone)).line).toBe(REFUSED);
    expect((await login(s, a, MAIN)).line).toMatch(OK);
  });
}

describe23();
describe24();

function describe23() {
  const describe = requireParts(['root', 'dovecot23', 'postfix']);
  let s: Setup;
  let pf: PostfixInstance;
  describe('Dovecot 2.3 (Lua passdb, auth cache on) and Postfix SMTP AUTH', () => {
    beforeAll(async () => {
      const backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none', ...SWEEP });
      const dc = await startDovecot({ authUrl: backend.daemon.authUrl, passdb: 'lua', cache: { size: '10M', ttl: '1 hour' } });
      const token = await adminToken(backend.daemon);
      const sc = new RotationScenario(backend, dc, token);
      const node = await sc.startNode('app23-local', { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_CONFIG: dc.configPath, ...SWEEP });
      s = { backend, dc, token, node, domain: 'app23.example.net' };
      pf = await startPostfix({ saslPath: dc.authClientSocket });
    }, 120_000);
    afterAll(async () => {
      if (process.env.MAILPASSD_E2E_VERBOSE) console.log(s?.dc.log(), pf?.log(), s?.backend.daemon.logs());
      await pf?.stop();
      await s?.node.stop();
      await s?.dc.stop();
      await s?.backend.stop();
    });

    commonScenarios(() => s);

    it('SMTP AUTH with an app password (Postfix says service smtp); an imap-only one is refused there', async () => {
      const a = await account(s);
      const smtp = await addApp(s, a, 'Mailer', { scopes: ['smtp'] });
      const imapOnly = await addApp(s, a, 'Reader', { scopes: ['imap'] });
      expect((await swaksAuth(pf.smtpPort, a, smtp, { localAddress: freshLoopback() })).authReply).toBe('235 2.7.0 Authentication successful');
      expect((await swaksAuth(pf.smtpPort, a, imapOnly, { localAddress: freshLoopback() })).authReply).toMatch(/^535 /);
      expect((await login(s, a, imapOnly)).line).toMatch(OK);
    });

    it('revoke: 2.3 cannot tell the sessions apart, so the mailbox is kicked and the answer says so', async () => {
      const a = await account(s);
      const phone = await addApp(s, a, 'Phone');
      const phoneSession = await session(s, a, phone);
      const laptopSession = await session(s, a, MAIN);
      try {
        const r = await revoke(s, a, 'Phone');
        expect(r.kicked).toBe('mailbox');
        expect(r.nodes.find((n) => n.node_id === 'app23-local')).toMatchObject({ applied: true, kicked: 'mailbox' });
        await expectKicked(phoneSession);
        await expectKicked(laptopSession);
        expect((await login(s, a, phone)).line).toBe(REFUSED);
        expect((await login(s, a, MAIN)).line).toMatch(OK);
      } finally {
        phoneSession.close();
        laptopSession.close();
      }
    });
  });
}

function describe24() {
  const describe = requireParts(['root', 'trixie']);
  let s: Setup;
  let wrapperDir: string;
  describe('Dovecot 2.4 (chroot, Lua passdb, auth cache on): revocation kicks only that device', () => {
    beforeAll(async () => {
      const backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none', ...SWEEP });
      const dc = await startDovecot24({ authUrl: backend.daemon.authUrl, cache: { size: '10M', ttl: '1 hour' }, mailRoot: backend.mailRoot });
      const token = await adminToken(backend.daemon);
      wrapperDir = makeTempDir('doveadm24-app');
      const wrapper = chrootDoveadmWrapper(wrapperDir);
      const sc = new RotationScenario(backend, dc, token);
      const node = await sc.startNode('app24-local', {
        MAILPASSD_DOVEADM: 'local',
        MAILPASSD_DOVEADM_BINARY: wrapper,
        MAILPASSD_DOVEADM_CONFIG: dc.configPath.slice(TRIXIE_DIR.length),
        MAILPASSD_APP_PASSWORDS_KICK_BY_FIELD: 'true',
        ...SWEEP,
      });
      s = { backend, dc, token, node, domain: 'app24.example.net' };
    }, 15 * 60_000);
    afterAll(async () => {
      if (process.env.MAILPASSD_E2E_VERBOSE) console.log(s?.dc.log());
      await s?.node.stop();
      await s?.dc.stop();
      await s?.backend.stop();
      if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
    });

    commonScenarios(() => s);

    it('revoke: the phone session (app password) is dropped, the laptop session (main password) stays', async () => {
      const a = await account(s);
      const phone = await addApp(s, a, 'Phone');
      const phoneSession = await session(s, a, phone);
      const laptopSession = await session(s, a, MAIN);
      try {
        // Dovecot 2.4 lists the app password's id as an alternative user name of the phone's session only.
        const who = await s.dc.doveadm(['who', '-1']);
        expect(who.stdout).toMatch(/user_app_password/);
        const r = await revoke(s, a, 'Phone');
        expect(r.kicked).toBe('app_password');
        expect(r.nodes.find((n) => n.node_id === 'app24-local')).toMatchObject({ applied: true, kicked: 'app_password' });
        await expectKicked(phoneSession);
        await stillThere(laptopSession);
        expect((await login(s, a, phone)).line).toBe(REFUSED);
      } finally {
        phoneSession.close();
        laptopSession.close();
      }
    });
  });
}
