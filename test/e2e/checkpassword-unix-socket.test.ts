/**
 * The production wiring of checkpassword (issue 10 point 15), with real users
 * and groups: the daemon runs as `mailpassd` and listens on a UNIX socket in a
 * directory laid out as systemd/mailpassd.tmpfiles.conf makes it (2750
 * mailpassd:mailpassd-auth); Dovecot 2.3 reaches it through the shipped
 * config/dovecot/checkpassword.conf (`extra_groups = mailpassd-auth`) and
 * reads the secret from a 0640 root:dovecot file. Dovecot's user is in no
 * mailpassd group: without mailpassd-auth it cannot connect at all.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMailRoot, ensureGroup, ensureUser, groupId, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { MAIN } from '../helpers/cli.js';
import { seedMailbox, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { freshLoopback } from '../helpers/imap.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'dovecot23']);

const SECRET = 'unix-socket-secret-0123456789ab';
const ALICE = 'alice@example.org';
const ALICE_PW = 'Harbor-Velvet-Cactus-Mosaic-8';

const tmp = tempDir('cp-unix');
const runDir = join(tmp.dir, 'mailpassd-auth'); // stands for /run/mailpassd-auth
const socketPath = join(runDir, 'auth.sock');
let db: { url: string; drop(): Promise<void> };
let d: TestDaemon;
let dc: DovecotInstance;
let authGid: number;
let mailRoot: string;
let dovecotUid: number;

beforeAll(async () => {
  const mp = ensureUser('mailpassd');
  authGid = ensureGroup('mailpassd-auth');
  dovecotUid = Number((await import('node:child_process')).spawnSync('id', ['-u', 'dovecot'], { encoding: 'utf8' }).stdout.trim());
  // As systemd-tmpfiles creates it: d /run/mailpassd-auth 2750 mailpassd mailpassd-auth
  mkdirSync(runDir);
  chownSync(runDir, mp.uid, authGid);
  chmodSync(runDir, 0o2750);
  // The daemon's copy of the secret (systemd's LoadCredential= gives it one readable by mailpassd only).
  const credential = join(tmp.dir, 'credential-auth-secret');
  writeFileSync(credential, `${SECRET}\n`);
  chownSync(credential, mp.uid, mp.gid);
  chmodSync(credential, 0o400);
  db = await createTestDatabase();
  mailRoot = createMailRoot(5000, 5000);
  d = await startTestDaemon({
    databaseUrl: db.url,
    user: mp,
    env: { MAILPASSD_AUTH_LISTEN: `unix:${socketPath}`, MAILPASSD_AUTH_SECRET_FILE: credential, MAILPASSD_USERDB_HOME: `${mailRoot}/%d/%n` },
  });
  await seedMailbox(d, ALICE, ALICE_PW);
  dc = await startDovecot({ authUrl: 'http://unused.invalid', authListen: `unix:${socketPath}`, authSecret: SECRET, passdb: 'checkpassword', cache: false });
});
afterAll(async () => {
  await dc?.stop();
  await d?.stop();
  await db?.drop();
  tmp.remove();
  if (mailRoot) rmSync(mailRoot, { recursive: true, force: true });
});

/** `mailpassd checkpassword` as Dovecot's user with only `gid` as its group; returns the exit status. */
function checkpasswordAs(gid: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'checkpassword', '/bin/true'], {
    uid: dovecotUid,
    gid, // Node drops the supplementary groups when it sets uid/gid
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MAILPASSD_CONFIG: '/dev/null', MAILPASSD_AUTH_LISTEN: `unix:${socketPath}`, MAILPASSD_AUTH_SECRET: SECRET },
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const fd3 = child.stdio[3] as Writable;
  fd3.on('error', () => {});
  fd3.end(`${ALICE}\0${ALICE_PW}\0\0`);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('checkpassword over the UNIX socket, with the shipped groups', () => {
  it('the socket the daemon creates belongs to group mailpassd-auth (setgid directory), mode 0660', () => {
    const st = statSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.gid).toBe(authGid);
    expect(st.mode & 0o777).toBe(0o660);
  });

  it('Dovecot (extra_groups = mailpassd-auth) logs in through it', async () => {
    const r = await dc.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, ALICE, ALICE_PW]);
    expect(r.stdout, dc.log()).toContain(`passdb: ${ALICE} auth succeeded`);
    const wrong = await dc.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, ALICE, 'Wrong-Password-99']);
    expect(wrong.stdout).toContain(`passdb: ${ALICE} auth failed`);
    expect(wrong.stdout).not.toContain('code=temp_fail');
  });

  it('Dovecot\'s user without that group cannot reach the socket (111, EACCES); with it, it can', async () => {
    const without = await checkpasswordAs(groupId('dovecot'));
    expect(without.code).toBe(111);
    expect(without.stderr).toMatch(/EACCES/);
    const withGroup = await checkpasswordAs(authGid);
    expect(withGroup.code, withGroup.stderr).toBe(0);
  });
});
