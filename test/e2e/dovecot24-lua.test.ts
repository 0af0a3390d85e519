/**
 * Dovecot 2.4 (Debian 13 "trixie", in a cached debootstrap chroot) with the
 * shipped config/dovecot/2.4/ Lua passdb/userdb, in front of the real
 * mailpassd on the host: ok / wrong / unknown / disabled / temporary
 * failure, IMAP LOGIN, and the 2.4-only auth cache key.
 *
 * The first run builds the chroot (debootstrap, 1-3 minutes); later runs
 * reuse /var/cache/mailpassd-test/trixie.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { startDovecot24 } from '../helpers/dovecot24.js';
import { freshLoopback, ImapSession, imapLogin } from '../helpers/imap.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'trixie']);

const SECRET = 'e2e-24-auth-secret-0123456789abc';
const FRANK = 'frank@example.com';
const FRANK_PW = 'Compass-Juniper-Otter-Kettle-62';
const GRACE = 'grace@example.com';
const GRACE_PW = 'Saffron-Tundra-Pylon-Widget-19';

let backend: E2eBackend;
let dc: DovecotInstance;

const authTest = (user: string, password: string) => dc.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, user, password]);

beforeAll(async () => {
  backend = await startE2eBackend({ MAILPASSD_AUTH_SECRET: SECRET });
  await backend.mailbox(FRANK, FRANK_PW);
  await backend.mailbox(GRACE, GRACE_PW);
  const dis = await backend.daemon.cli(['mailbox', 'disable', GRACE]);
  expect(dis.code, dis.stderr).toBe(0);
  dc = await startDovecot24({ authUrl: backend.daemon.authUrl, authSecret: SECRET, mailRoot: backend.mailRoot });
}, 15 * 60_000);

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await dc?.stop();
  await backend?.stop();
});

describe('Dovecot 2.4 + Lua passdb', () => {
  it('runs 2.4', () => {
    expect(dc.version).toMatch(/^2\.4\./);
  });

  it('right password → auth succeeded with the canonical user', async () => {
    const r = await authTest(FRANK, FRANK_PW);
    expect(r.stdout).toContain(`passdb: ${FRANK} auth succeeded`);
    expect(r.stdout).toContain(`user=${FRANK}`);
    expect(r.code).toBe(0);
  });

  it('wrong password → auth failed, not temporary', async () => {
    const r = await authTest(FRANK, 'Wrong-Password-000');
    expect(r.stdout).toContain(`passdb: ${FRANK} auth failed`);
    expect(r.stdout).not.toContain('code=temp_fail');
    expect(r.code).toBe(77);
  });

  it('unknown user → auth failed', async () => {
    const r = await authTest('nobody@example.com', FRANK_PW);
    expect(r.stdout).toContain('passdb: nobody@example.com auth failed');
    expect(r.stdout).not.toContain('code=temp_fail');
  });

  it('disabled mailbox → code=user_disabled', async () => {
    const r = await authTest(GRACE, GRACE_PW);
    expect(r.stdout).toContain(`passdb: ${GRACE} auth failed`);
    expect(r.stdout).toContain('code=user_disabled');
  });

  it('doveadm user → mailpassd\'s userdb fields', async () => {
    const r = await dc.doveadm(['user', FRANK]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`home\\s+${backend.mailRoot}/example.com/frank`));
    expect(r.stdout).toMatch(/uid\s+5000/);
  });

  it('IMAP LOGIN: ok (and the mailbox opens), wrong password, disabled', async () => {
    const s = await ImapSession.open(dc.imapPort, { localAddress: freshLoopback() });
    try {
      expect((await s.login(FRANK, FRANK_PW)).line).toMatch(/^a1 OK .*Logged in/);
      expect((await s.command('SELECT INBOX')).status).toBe('OK');
    } finally {
      await s.logout();
    }
    const bad = await imapLogin(dc.imapPort, FRANK, 'Wrong-Password-000', { localAddress: freshLoopback() });
    expect(bad.line).toBe('a1 NO [AUTHENTICATIONFAILED] Authentication failed.');
    const dis = await imapLogin(dc.imapPort, GRACE, GRACE_PW, { localAddress: freshLoopback() });
    expect(dis.line).toBe('a1 NO [AUTHENTICATIONFAILED] Authentication failed.');
  });

  it('the auth cache works (auth_passdb_get_cache_key) and a flush finds the entry', async () => {
    expect((await authTest(FRANK, FRANK_PW)).stdout).toContain('auth succeeded');
    const r = await dc.doveadm(['auth', 'cache', 'flush', FRANK]);
    expect(r.stderr).not.toMatch(/Error:/);
    expect(r.stdout).toMatch(/^[1-9]\d* cache entries flushed/m);
  });

  it('an unprivileged member of group mailpassd can flush and kick (the auth-master and anvil grants)', async () => {
    expect((await authTest(FRANK, FRANK_PW)).stdout).toContain('auth succeeded');
    const flush = await dc.doveadmAs('mailpassd', ['auth', 'cache', 'flush', FRANK]);
    expect(flush.stderr).not.toMatch(/Error:/);
    expect(flush.stdout).toMatch(/^[1-9]\d* cache entries flushed/m);

    const s = await ImapSession.open(dc.imapPort, { localAddress: freshLoopback() });
    try {
      expect((await s.login(FRANK, FRANK_PW)).status).toBe('OK');
      const kick = await dc.doveadmAs('mailpassd', ['kick', FRANK]);
      expect(kick.stderr).not.toMatch(/Error:/);
      expect(kick.stdout).toMatch(/1 connections kicked/);
      expect(kick.code).toBe(0);
      // doveadm answers once the kick is signalled; the IMAP process may answer one
      // more NOOP before it acts on the signal, so ask until it goes (bounded).
      let closed = false;
      for (let i = 0; i < 50 && !closed; i++) {
        const after = await s.command('NOOP', 10_000);
        closed = after.status === 'CLOSED' || after.untagged.some((l) => /^\* BYE/.test(l));
        if (!closed) await new Promise((r) => setTimeout(r, 100));
      }
      expect(closed, 'the kicked IMAP session ended').toBe(true);
    } finally {
      s.close();
    }
  });

  it('database down → code=temp_fail and IMAP [UNAVAILABLE]; back up → works again', async () => {
    await dc.doveadm(['auth', 'cache', 'flush']);
    await backend.databaseDown();
    try {
      const r = await authTest(FRANK, FRANK_PW);
      expect(r.stdout).toContain('code=temp_fail');
      const wrong = await authTest(FRANK, 'Wrong-Password-000');
      expect(wrong.stdout).toContain('code=temp_fail');
      const imap = await imapLogin(dc.imapPort, FRANK, FRANK_PW, { localAddress: freshLoopback() });
      expect(imap.line).toMatch(/^a1 NO \[UNAVAILABLE\] Temporary authentication failure/);
      expect(dc.log()).toMatch(/mailpassd: HTTP 503/);
    } finally {
      await backend.databaseUp();
    }
    expect(await eventually(async () => (await authTest(FRANK, FRANK_PW)).stdout.includes('auth succeeded'), 20_000)).toBe(true);
  });
});
