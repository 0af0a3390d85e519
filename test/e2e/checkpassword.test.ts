/**
 * `mailpassd checkpassword` (Dovecot 2.3's checkpassword passdb/userdb):
 * first driven directly - fd 3 in, fd 4 out, exit status - against the real
 * daemon, then through a real Dovecot 2.3 using the shipped
 * config/dovecot/checkpassword.conf.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT, freePort, startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { cleanEnv } from '../helpers/cli.js';
import { freshLoopback, imapLogin } from '../helpers/imap.js';
import { requireParts } from '../helpers/parts.js';
import { waitFor as until } from '../helpers/wait.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describeWithDovecot = requireParts(['root', 'dovecot23']);
// The reply program is Dovecot's own (dovecot-core).
const describe = requireParts(['root', 'doveadm']);

const MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const REPLY = '/usr/lib/dovecot/checkpassword-reply';
const SECRET = 'checkpassword-secret-0123456789ab';
const ALICE = 'alice@example.org';
const ALICE_PW = 'Harbor-Velvet-Cactus-Mosaic-8';
const DAVE = 'dave@example.org';
const DAVE_PW = 'Granite-Piano-Orbit-Fennel-3';

let backend: E2eBackend;

interface CpRun {
  code: number | null;
  /** What the reply program wrote to fd 4 (tab-separated fields). */
  fd4: string;
  stderr: string;
}

/**
 * Runs `mailpassd checkpassword <reply>` as Dovecot would: fd 3 carries
 * the input (`feed` decides what is written and whether it is closed),
 * fd 4 collects the reply program's output. A run still going after
 * `timeoutMs` is killed and comes back with code null: that is how a hang
 * fails a test, without any test reading the clock.
 */
function checkpassword(
  feed: (fd3: Writable) => void,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<CpRun> {
  const child = spawn(process.execPath, [MAIN, 'checkpassword', REPLY], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: {
      ...cleanEnv(),
      MAILPASSD_CONFIG: '/dev/null',
      MAILPASSD_AUTH_LISTEN: backend.daemon.authListen,
      MAILPASSD_AUTH_SECRET: SECRET,
      ORIG_UID: String(process.getuid?.() ?? 0), // checkpassword-reply's safety check
      SERVICE: 'imap',
      TCPREMOTEIP: '192.0.2.55',
      ...env,
    },
  });
  let fd4 = '';
  let stderr = '';
  (child.stdio[4] as Readable).on('data', (d: Buffer) => (fd4 += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const fd3 = child.stdio[3] as Writable;
  fd3.on('error', () => {}); // the program may exit before reading everything
  feed(fd3);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, fd4, stderr });
    });
  });
}

const send = (data: string | Buffer) => (fd3: Writable) => fd3.end(data);

beforeAll(async () => {
  backend = await startE2eBackend({ MAILPASSD_AUTH_SECRET: SECRET });
  await backend.mailbox(ALICE, ALICE_PW);
  await backend.mailbox(DAVE, DAVE_PW);
  const dis = await backend.daemon.cli(['mailbox', 'disable', DAVE]);
  expect(dis.code, dis.stderr).toBe(0);
});

afterAll(async () => {
  await backend?.stop();
});

describe('mailpassd checkpassword, driven directly', () => {
  it('right password → runs the reply program with USER/HOME/EXTRA and passes its exit status', async () => {
    const r = await checkpassword(send(`${ALICE}\0${ALICE_PW}\0\0`));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const fields = r.fd4.split('\t').filter(Boolean);
    expect(fields).toContain(`user=${ALICE}`);
    expect(fields).toContain(`userdb_home=${backend.mailRoot}/example.org/alice`);
    expect(fields).toContain('userdb_uid=5000');
    expect(fields).toContain('userdb_gid=5000');
  });

  it('wrong password → 1, nothing on fd 4', async () => {
    const r = await checkpassword(send(`${ALICE}\0Wrong-Password-99\0\0`));
    expect(r.code).toBe(1);
    expect(r.fd4).toBe('');
  });

  it('unknown user → 1', async () => {
    const r = await checkpassword(send(`nobody@example.org\0${ALICE_PW}\0\0`));
    expect(r.code).toBe(1);
  });

  it('disabled mailbox → 1', async () => {
    const r = await checkpassword(send(`${DAVE}\0${DAVE_PW}\0\0`));
    expect(r.code).toBe(1);
  });

  it('oversize input → 1, without waiting for the end of the input', async () => {
    // fd 3 is never closed and the input timeout is far beyond the run's 20 s
    // limit: a program that waited for the end would be killed (code null).
    const r = await checkpassword((fd3) => fd3.write(Buffer.alloc(8192, 0x61)), { MAILPASSD_CHECKPASSWORD_INPUT_TIMEOUT_MS: '600000' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('longer than 4096 bytes');
  });

  it('truncated input (no second NUL) → 1', async () => {
    const r = await checkpassword(send(`${ALICE}\0${ALICE_PW}`));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not user\\0password\\0');
  });

  // Which timer ended the run is in its message; a hang is killed (code null) by the run's 20 s limit.
  it('fd 3 held open without data → 111 after the input timeout, never a hang', async () => {
    const r = await checkpassword(() => {}, { MAILPASSD_CHECKPASSWORD_INPUT_TIMEOUT_MS: '1500' });
    expect(r.code).toBe(111);
    expect(r.stderr).toContain('no complete input on fd 3 within 1500 ms');
  });

  it('fd 3 held open, default input timeout → 111 after 5 s', async () => {
    const r = await checkpassword(() => {});
    expect(r.code).toBe(111);
    expect(r.stderr).toContain('no complete input on fd 3 within 5000 ms');
  });

  it('daemon not listening → 111 (temporary), not 1', async () => {
    const port = await freePort();
    const r = await checkpassword(send(`${ALICE}\0${ALICE_PW}\0\0`), { MAILPASSD_AUTH_LISTEN: `127.0.0.1:${port}` });
    expect(r.code).toBe(111);
    expect(r.stderr).toContain('ECONNREFUSED');
  });

  it('wrong shared secret → 111 (a misconfiguration is not a wrong password)', async () => {
    const r = await checkpassword(send(`${ALICE}\0${ALICE_PW}\0\0`), { MAILPASSD_AUTH_SECRET: 'not-the-secret-0123456789abcdef' });
    expect(r.code).toBe(111);
    expect(r.stderr).toContain('401');
  });

  it('lookup mode (AUTHORIZED=1, userdb) → reply program exits 2 with the userdb fields', async () => {
    const r = await checkpassword(send(`${ALICE}\0\0`), { AUTHORIZED: '1' });
    expect(r.code).toBe(2);
    const fields = r.fd4.split('\t').filter(Boolean);
    expect(fields).toContain(`user=${ALICE}`);
    expect(fields).toContain(`userdb_home=${backend.mailRoot}/example.org/alice`);
    expect(fields).toContain('userdb_uid=5000');
  });

  it('lookup mode, unknown user → 3', async () => {
    const r = await checkpassword(send(`nobody@example.org\0\0`), { AUTHORIZED: '1' });
    expect(r.code).toBe(3);
  });

  it('credential lookup (CRAM-MD5 etc.) → 111 with a reason: mailpassd never hands out hashes', async () => {
    const r = await checkpassword(send(`${ALICE}\0\0`), { AUTHORIZED: '1', CREDENTIALS_LOOKUP: '1', SCHEME: 'CRAM-MD5' });
    expect(r.code).toBe(111);
    expect(r.stderr).toContain('credential lookup');
  });
});

describeWithDovecot('Dovecot 2.3 + checkpassword passdb (config/dovecot/checkpassword.conf)', () => {
  let dc: DovecotInstance;
  const authTest = (user: string, password: string) => dc.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, user, password]);

  beforeAll(async () => {
    dc = await startDovecot({ authUrl: backend.daemon.authUrl, authSecret: SECRET, passdb: 'checkpassword', cache: false });
  });
  afterAll(async () => {
    if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
    await dc?.stop();
  });

  it('doveadm auth test: right password succeeds, with the userdb fields for prefetch', async () => {
    const r = await authTest(ALICE, ALICE_PW);
    expect(r.stdout).toContain(`passdb: ${ALICE} auth succeeded`);
    expect(r.stdout).toContain(`user=${ALICE}`);
    expect(r.code).toBe(0);
  });

  it('doveadm auth test: wrong password, unknown user, disabled mailbox fail (not temporarily)', async () => {
    for (const [u, p] of [
      [ALICE, 'Wrong-Password-99'],
      ['nobody@example.org', ALICE_PW],
      [DAVE, DAVE_PW],
    ] as const) {
      const r = await authTest(u, p);
      expect(r.stdout).toContain(`passdb: ${u} auth failed`);
      expect(r.stdout).not.toContain('code=temp_fail');
    }
    expect(dc.log()).toMatch(/Login failed \(status=1\)/);
  });

  it('doveadm user goes through the checkpassword userdb (lookup mode)', async () => {
    const r = await dc.doveadm(['user', ALICE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`home\\s+${backend.mailRoot}/example.org/alice`));
    expect(r.stdout).toMatch(/uid\s+5000/);
    const unknown = await dc.doveadm(['user', 'nobody@example.org']);
    expect(unknown.code).toBe(67);
  });

  it('IMAP LOGIN: ok, then wrong password', async () => {
    const ok = await imapLogin(dc.imapPort, ALICE, ALICE_PW, { localAddress: freshLoopback() });
    expect(ok.line).toMatch(/^a1 OK .*Logged in/);
    const bad = await imapLogin(dc.imapPort, ALICE, 'Wrong-Password-99', { localAddress: freshLoopback() });
    expect(bad.line).toBe('a1 NO [AUTHENTICATIONFAILED] Authentication failed.');
  });

  it('database down → exit 111 → Dovecot temporary failure; back up → works again', async () => {
    await backend.databaseDown();
    try {
      const r = await authTest(ALICE, ALICE_PW);
      expect(r.stdout).toContain('code=temp_fail');
      // Dovecot's auth process logs through its log process: the line can land in the file after the answer.
      await expect.poll(() => dc.log(), { timeout: 5_000 }).toMatch(/exited with status 111/);
      const imap = await imapLogin(dc.imapPort, ALICE, ALICE_PW, { localAddress: freshLoopback() });
      expect(imap.line).toMatch(/^a1 NO \[UNAVAILABLE\] Temporary authentication failure/);
    } finally {
      await backend.databaseUp();
    }
    await until('logins to work again', 20_000, async () => (await authTest(ALICE, ALICE_PW)).stdout.includes('auth succeeded'), 250);
  });
});
