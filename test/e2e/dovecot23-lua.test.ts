/**
 * Dovecot 2.3 (Debian 12) with the shipped Lua passdb/userdb
 * (config/dovecot/2.3/) in front of the real mailpassd daemon and a real
 * PostgreSQL: doveadm auth test / doveadm user / IMAP LOGIN for every
 * answer, and the rule that matters most - database down means a
 * temporary failure, never "wrong password", and it heals by itself.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { freshLoopback, ImapSession, imapLogin } from '../helpers/imap.js';
import { requireParts } from '../helpers/parts.js';
import { waitFor as until } from '../helpers/wait.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'dovecot23']);

const SECRET = 'e2e-auth-secret-0123456789abcdef';
const ALICE = 'alice@example.org';
const ALICE_PW = 'Quasar-Lantern-Tr0mbone-41';
const CAROL = 'carol@example.org';
const CAROL_PW = 'Walrus-Meadow-Cobalt-Sketch-7';
const API_KEY = 'doveadm-api-key-for-tests-0123456789';

let backend: E2eBackend;
let dc: DovecotInstance;

const authTest = (user: string, password: string) => dc.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, user, password]);

beforeAll(async () => {
  backend = await startE2eBackend({ MAILPASSD_AUTH_SECRET: SECRET });
  await backend.mailbox(ALICE, ALICE_PW);
  await backend.mailbox(CAROL, CAROL_PW);
  const dis = await backend.daemon.cli(['mailbox', 'disable', CAROL, '--reason', 'left the company']);
  expect(dis.code, dis.stderr).toBe(0);
  dc = await startDovecot({ authUrl: backend.daemon.authUrl, authSecret: SECRET, passdb: 'lua', doveadmApiKey: API_KEY });
});

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await dc?.stop();
  await backend?.stop();
});

describe('Dovecot 2.3 + Lua passdb: doveadm', () => {
  it('accepts the right password and returns the canonical user', async () => {
    const r = await authTest(ALICE, ALICE_PW);
    expect(r.stdout).toContain(`passdb: ${ALICE} auth succeeded`);
    expect(r.stdout).toMatch(new RegExp(`user=${ALICE}`));
    expect(r.code).toBe(0);
  });

  it('normalises the login name through mailpassd', async () => {
    // Dovecot lowercases by default (auth_username_format = %Lu); mailpassd
    // answers with its canonical address either way.
    const r = await authTest('Alice@Example.ORG', ALICE_PW);
    expect(r.stdout).toContain('auth succeeded');
    expect(r.stdout).toContain(`user=${ALICE}`);
  });

  it('refuses a wrong password as a plain failure, not a temporary one', async () => {
    const r = await authTest(ALICE, 'Not-The-Password-123');
    expect(r.stdout).toContain(`passdb: ${ALICE} auth failed`);
    expect(r.stdout).not.toContain('code=temp_fail');
    expect(r.code).toBe(77);
  });

  it('refuses an unknown user the same way', async () => {
    const r = await authTest('nobody@example.org', ALICE_PW);
    expect(r.stdout).toContain('passdb: nobody@example.org auth failed');
    expect(r.stdout).not.toContain('code=temp_fail');
    expect(r.code).toBe(77);
  });

  it('refuses a disabled mailbox with Dovecot\'s user_disabled code', async () => {
    const r = await authTest(CAROL, CAROL_PW);
    expect(r.stdout).toContain(`passdb: ${CAROL} auth failed`);
    expect(r.stdout).toContain('code=user_disabled');
  });

  it('doveadm user returns mailpassd\'s userdb fields', async () => {
    const r = await dc.doveadm(['user', ALICE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`home\\s+${backend.mailRoot}/example.org/alice`));
    expect(r.stdout).toMatch(/uid\s+5000/);
    expect(r.stdout).toMatch(/gid\s+5000/);
  });

  it('credential lookups (non-plaintext mechanisms) are refused the way Dovecot refuses them for checkpassword/PAM', async () => {
    // (A cached entry would answer instead: flush first.)
    await dc.doveadm(['auth', 'cache', 'flush', ALICE]);
    const r = await dc.doveadm(['auth', 'lookup', ALICE]);
    expect(r.stderr).toContain("Configured passdbs don't support credentials lookups");
    expect(r.code).not.toBe(0);
    // Dovecot's processes log through its log process: the line can land in the file after the answer.
    await expect.poll(() => dc.log(), { timeout: 5_000 }).toContain('mailpassd only verifies plaintext passwords');
  });

  it('doveadm user says an unknown user does not exist', async () => {
    const r = await dc.doveadm(['user', 'nobody@example.org']);
    expect(r.code).toBe(67);
    expect(r.stdout + r.stderr).toContain("userdb lookup: user nobody@example.org doesn't exist");
  });
});

describe('Dovecot 2.3 + Lua passdb: IMAP', () => {
  it('LOGIN succeeds and the mailbox opens', async () => {
    const s = await ImapSession.open(dc.imapPort, { localAddress: freshLoopback() });
    try {
      const login = await s.login(ALICE, ALICE_PW);
      expect(login.line).toMatch(/^a1 OK .*Logged in/);
      const sel = await s.command('SELECT INBOX');
      expect(sel.status).toBe('OK');
    } finally {
      await s.logout();
    }
  });

  it('LOGIN with a wrong password: AUTHENTICATIONFAILED', async () => {
    const r = await imapLogin(dc.imapPort, ALICE, 'Not-The-Password-123', { localAddress: freshLoopback() });
    expect(r.line).toBe('a1 NO [AUTHENTICATIONFAILED] Authentication failed.');
  });

  it('LOGIN as an unknown user: the same answer', async () => {
    const r = await imapLogin(dc.imapPort, 'nobody@example.org', 'Not-The-Password-123', { localAddress: freshLoopback() });
    expect(r.line).toBe('a1 NO [AUTHENTICATIONFAILED] Authentication failed.');
  });

  it('LOGIN to a disabled mailbox: refused', async () => {
    const r = await imapLogin(dc.imapPort, CAROL, CAROL_PW, { localAddress: freshLoopback() });
    expect(r.line).toBe('a1 NO [AUTHENTICATIONFAILED] Authentication failed.');
    // imap-login writes its line when the connection ends, a moment later.
    await until('the disabled login in the log', 5_000, () => /\(user disabled\).*user=<carol@example\.org>/.test(dc.log()), 100);
  });
});

/** One doveadm HTTP API call (the `http://` form of MAILPASSD_DOVEADM). */
async function doveadmHttp(command: string, params: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${dc.doveadmHttpPort}/doveadm/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `X-Dovecot-API ${Buffer.from(API_KEY).toString('base64')}` },
    body: JSON.stringify([[command, params, 't1']]),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe('Dovecot 2.3: what a password change needs (cache flush, kick)', () => {
  it('an unprivileged member of group mailpassd can flush the auth cache (the auth-master grant)', async () => {
    expect((await authTest(ALICE, ALICE_PW)).stdout).toContain('auth succeeded');
    const r = await dc.doveadmAs('mailpassd', ['auth', 'cache', 'flush', ALICE]);
    expect(r.stdout).toMatch(/^[1-9]\d* cache entries flushed/m);
    expect(r.code).toBe(0);
    // 2.3 only: doveadm also tries the stats-writer socket (group dovecot) and
    // prints a harmless "Error: net_connect_unix(.../stats-writer) failed:
    // Permission denied". Whoever judges doveadm by its stderr must ignore
    // that line; no other error may appear.
    const errors = r.stderr.split('\n').filter((l) => /Error:/.test(l));
    expect(errors.filter((l) => !/stats-writer\) failed: Permission denied/.test(l))).toEqual([]);
  });

  it('without the group, doveadm fails to connect yet exits 0 ("0 cache entries flushed")', async () => {
    // Why mailpassd must read stderr, not only the exit status.
    const r = await dc.doveadmAs('nogroup', ['auth', 'cache', 'flush', ALICE]);
    expect(r.stderr).toMatch(/Error: .*auth-master.*Permission denied/);
    expect(r.stdout).toContain('0 cache entries flushed');
    expect(r.code).toBe(0);
  });

  it('doveadm HTTP API: authCacheFlush flushes, kick (mask as a string) ends an open IMAP session', async () => {
    expect((await authTest(ALICE, ALICE_PW)).stdout).toContain('auth succeeded');
    const flush = await doveadmHttp('authCacheFlush', { user: [ALICE] });
    expect(flush.status).toBe(200);
    const [[kind, [result], tag]] = flush.body as [[string, [{ entries: string }], string]];
    expect([kind, tag]).toEqual(['doveadmResponse', 't1']);
    expect(Number(result.entries)).toBeGreaterThanOrEqual(1);

    const s = await ImapSession.open(dc.imapPort, { localAddress: freshLoopback() });
    try {
      expect((await s.login(ALICE, ALICE_PW)).status).toBe('OK');
      const kick = await doveadmHttp('kick', { mask: ALICE });
      expect(kick.body).toEqual([['doveadmResponse', [{ result: ALICE }], 't1']]);
      // doveadm answers once the kick is signalled; the IMAP process may answer one
      // more NOOP before it acts on the signal, so ask until it goes (bounded).
      await until('the kicked IMAP session to end', 5_000, async () => {
        const after = await s.command('NOOP', 10_000);
        return after.status === 'CLOSED' || after.untagged.some((l) => /^\* BYE/.test(l));
      }, 100);
    } finally {
      s.close();
    }
  });

  it('doveadm HTTP API refuses a wrong key', async () => {
    const res = await fetch(`http://127.0.0.1:${dc.doveadmHttpPort}/doveadm/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `X-Dovecot-API ${Buffer.from('wrong').toString('base64')}` },
      body: JSON.stringify([['authCacheFlush', {}, 't1']]),
    });
    expect(res.status).toBe(401);
  });
});

describe('Dovecot 2.3 + Lua passdb: mailpassd cannot answer', () => {
  it('database down → temporary failure (code=temp_fail, IMAP [UNAVAILABLE]); back up → logins work again', async () => {
    // Warm the cache, then prove it is what a flush clears: the cache would
    // otherwise (correctly) keep serving alice through the outage.
    expect((await authTest(ALICE, ALICE_PW)).stdout).toContain('auth succeeded');
    await backend.databaseDown();
    try {
      const flush = await dc.doveadm(['auth', 'cache', 'flush']);
      expect(flush.code).toBe(0);
      expect(flush.stdout).toMatch(/\d+ cache entries flushed/);
      expect(flush.stderr).not.toMatch(/Error:/);

      const t = await authTest(ALICE, ALICE_PW);
      expect(t.stdout).toContain(`passdb: ${ALICE} auth failed`);
      expect(t.stdout).toContain('code=temp_fail');

      const wrong = await authTest(ALICE, 'Not-The-Password-123');
      expect(wrong.stdout).toContain('code=temp_fail'); // not a "wrong password" while unknown

      const imap = await imapLogin(dc.imapPort, ALICE, ALICE_PW, { localAddress: freshLoopback() });
      expect(imap.line).toMatch(/^a1 NO \[UNAVAILABLE\] Temporary authentication failure/);
      expect(dc.log()).toMatch(/mailpassd: HTTP 503/);
    } finally {
      await backend.databaseUp();
    }
    // Nothing restarted: neither Dovecot nor mailpassd.
    await until('logins to work again', 20_000, async () => (await authTest(ALICE, ALICE_PW)).stdout.includes('auth succeeded'), 250);
    const imap = await imapLogin(dc.imapPort, ALICE, ALICE_PW, { localAddress: freshLoopback() });
    expect(imap.line).toMatch(/^a1 OK .*Logged in/);
  });

  it('a wrong shared secret (401) is a temporary failure, never a wrong password', async () => {
    const other = await startDovecot({ authUrl: backend.daemon.authUrl, authSecret: 'wrong-secret-0123456789abcdef', cache: false });
    try {
      const r = await other.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, ALICE, ALICE_PW]);
      expect(r.stdout).toContain('code=temp_fail');
      await expect.poll(() => other.log(), { timeout: 5_000 }).toContain('401, auth secret missing or wrong');
    } finally {
      await other.stop();
    }
  });

  it('mailpassd not listening → temporary failure', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const other = await startDovecot({ authUrl: `http://127.0.0.1:${port}`, cache: false });
    try {
      const r = await other.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, ALICE, ALICE_PW]);
      expect(r.stdout).toContain('code=temp_fail');
      await expect.poll(() => other.log(), { timeout: 5_000 }).toMatch(/mailpassd unreachable at .*Connection refused/);
    } finally {
      await other.stop();
    }
  });

  it('mailpassd hanging → temporary failure after the script\'s timeout, not a minute', async () => {
    const sockets: Socket[] = [];
    const srv: Server = createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const other = await startDovecot({ authUrl: `http://127.0.0.1:${port}`, cache: false });
    try {
      // Which timer ended the request is in Dovecot's log: the snippet's absolute
      // timeout, which Dovecot's HTTP client has none of by default (its request
      // timeout is a minute). A hang is cut off by the 40 s limit of this doveadm.
      const r = await other.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, ALICE, ALICE_PW], 40_000);
      expect(r.stdout).toContain('code=temp_fail');
      await expect.poll(() => other.log(), { timeout: 5_000 }).toMatch(/passdb-lua: mailpassd unreachable at http:\/\/127\.0\.0\.1:\d+: Absolute request timeout expired/);
    } finally {
      await other.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
