/**
 * SMTP AUTH: a private Postfix using config/postfix/main.cf.snippet, asking
 * a private Dovecot 2.3 (config/dovecot/2.3/, auth-postfix listener) which
 * asks the real mailpassd. Client: swaks, AUTH PLAIN after STARTTLS.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { freshLoopback } from '../helpers/imap.js';
import { startPostfix, swaksAuth, type PostfixInstance } from '../helpers/postfix.js';
import { requireParts } from '../helpers/parts.js';
import { waitFor as until } from '../helpers/wait.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'dovecot23', 'postfix']);

const ERIN = 'erin@example.net';
const ERIN_PW = 'Lagoon-Biscuit-Falcon-Rivet-5';

let backend: E2eBackend;
let dc: DovecotInstance;
let pf: PostfixInstance;

beforeAll(async () => {
  backend = await startE2eBackend();
  await backend.mailbox(ERIN, ERIN_PW);
  dc = await startDovecot({ authUrl: backend.daemon.authUrl });
  pf = await startPostfix({ saslPath: dc.authClientSocket });
});

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(pf?.log(), dc?.log());
  await pf?.stop();
  await dc?.stop();
  await backend?.stop();
});

describe('Postfix SMTP AUTH through Dovecot', () => {
  it('right password → 235', async () => {
    const r = await swaksAuth(pf.smtpPort, ERIN, ERIN_PW, { localAddress: freshLoopback() });
    expect(r.authReply).toBe('235 2.7.0 Authentication successful');
    expect(r.code).toBe(0);
  });

  it('wrong password → 535', async () => {
    const r = await swaksAuth(pf.smtpPort, ERIN, 'Wrong-Password-77', { localAddress: freshLoopback() });
    expect(r.authReply).toMatch(/^535 5\.7\.8 Error: authentication failed/);
    // smtpd logs through postlogd: the line can land in the file after the 535.
    await expect.poll(() => pf.log(), { timeout: 5_000 }).toMatch(/SASL PLAIN authentication failed.*sasl_username=erin@example\.net/);
  });

  it('unknown user → the same 535', async () => {
    const r = await swaksAuth(pf.smtpPort, 'nobody@example.net', ERIN_PW, { localAddress: freshLoopback() });
    expect(r.authReply).toMatch(/^535 5\.7\.8 Error: authentication failed/);
  });

  it('AUTH is not offered before STARTTLS (smtpd_tls_auth_only in the snippet)', async () => {
    const { run } = await import('../helpers/dovecot.js');
    const r = await run('swaks', ['--server', `127.0.0.1:${pf.smtpPort}`, '--quit-after', 'EHLO', '--timeout', '20'], 30_000);
    expect(r.stdout).toContain('250');
    expect(r.stdout).not.toMatch(/250-AUTH/);
  });

  it('database down → Dovecot fails temporarily; Postfix 3.7 still says 535; back up → 235 again', async () => {
    // Postfix's Dovecot SASL client (xsasl_dovecot_server.c, 3.7) turns every
    // FAIL into 535 and ignores Dovecot's code=temp_fail, so SMTP clients
    // cannot tell an outage from a wrong password (IMAP/POP3 can). Dovecot's
    // side is still right: it logs an internal failure, never a mismatch.
    // If a Postfix upgrade starts answering 454 here, so much the better.
    await dc.doveadm(['auth', 'cache', 'flush']);
    await backend.databaseDown();
    try {
      const before = dc.log().length;
      const r = await swaksAuth(pf.smtpPort, ERIN, ERIN_PW, { localAddress: freshLoopback() });
      expect(r.authReply).toMatch(/^(454 4\.7\.0 Temporary authentication failure|535 5\.7\.8 Error: authentication failed)/);
      // Dovecot's auth process logs through its log process: the line can land in the file after the answer.
      await expect.poll(() => dc.log().slice(before), { timeout: 5_000 }).toMatch(/mailpassd: HTTP 503/);
      expect(dc.log().slice(before)).not.toMatch(/Password mismatch/);
    } finally {
      await backend.databaseUp();
    }
    await until(
      'SMTP AUTH to succeed again',
      30_000,
      async () => (await swaksAuth(pf.smtpPort, ERIN, ERIN_PW, { localAddress: freshLoopback() })).authReply === '235 2.7.0 Authentication successful',
      500,
    );
  });
});
