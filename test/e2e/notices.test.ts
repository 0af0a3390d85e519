/**
 * Notices by mail end to end: the real daemon hands them to a private Postfix
 * on a loopback port, which delivers to a private Dovecot 2.3 over LMTP; the
 * test reads them over IMAP as the mailbox owner would. Time is moved by
 * setting password_expires_at in the database.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startDovecot, startE2eBackend, freePort, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { freshLoopback, readInbox } from '../helpers/imap.js';
import { startPostfix, type PostfixInstance } from '../helpers/postfix.js';
import { adminToken, postJson, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { requireParts } from '../helpers/parts.js';
import { waitFor as until } from '../helpers/wait.js';

const describe = requireParts(['root', 'dovecot23', 'postfix', 'lmtp']);

const DOMAIN = 'example.net';
const PW0 = 'Lagoon-Biscuit-Falcon-Rivet-5';
const PW1 = 'Orbit-Velvet-Cactus-Harbor-3';
const KEEPER = `keeper@${DOMAIN}`; // the recovery address of some mailboxes, itself a mailbox here
let smtpPort: number;
let backend: E2eBackend;
let second: TestDaemon | null = null;
let dc: DovecotInstance;
let pf: PostfixInstance | null = null;
let pool: pg.Pool;
let token: string;
let n = 0;

const env = () => ({
  MAILPASSD_NOTICES_ENABLED: 'true',
  MAILPASSD_NOTICES_FROM: `Mail accounts <noreply@${DOMAIN}>`,
  MAILPASSD_NOTICES_CHANGE_URL: 'https://webmail.example.net/',
  MAILPASSD_NOTICES_SMTP_PORT: String(smtpPort),
  MAILPASSD_NOTICES_POLL_INTERVAL_MS: '200',
  MAILPASSD_NOTICES_SCAN_INTERVAL_MS: '1000',
  MAILPASSD_NOTICES_RETRY_BASE_SECONDS: '1',
  MAILPASSD_NOTICES_RETRY_MAX_SECONDS: '2',
  MAILPASSD_NOTICES_SMTP_TIMEOUT_MS: '5000',
});

const startRelay = async () => {
  pf = await startPostfix({ saslPath: dc.authClientSocket, lmtp: { port: dc.lmtpPort, domains: [DOMAIN] }, smtpPort });
};

beforeAll(async () => {
  // The daemon must know the relay's port before the relay runs (it runs behind Dovecot, which runs behind the daemon).
  smtpPort = await freePort();
  backend = await startE2eBackend(env());
  pool = new pg.Pool({ connectionString: backend.cluster.url, max: 2 });
  await backend.mailbox(KEEPER, PW0);
  token = await adminToken(backend.daemon);
  dc = await startDovecot({ authUrl: backend.daemon.authUrl, lmtp: true });
  await startRelay();
}, 120_000);

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(pf?.log(), dc?.log(), backend?.daemon.logs());
  await second?.stop();
  await pf?.stop();
  await dc?.stop();
  await pool?.end();
  await backend?.stop();
});

async function mailbox(recovery: string | null = null): Promise<string> {
  const address = `owner${++n}@${DOMAIN}`;
  await backend.mailbox(address, PW0);
  if (recovery) await backend.daemon.cliOk(['mailbox', 'patch', address, '--recovery-address', recovery]);
  return address;
}

const inbox = (user: string, password: string) => readInbox(dc.imapPort, user, password, { localAddress: freshLoopback() });

/** The messages about `address` in `user`'s inbox, once there are `count` of them. */
async function notices(user: string, password: string, about: string, count: number, timeoutMs = 30_000): Promise<string[]> {
  let found: string[] = [];
  await until(`${count} notice(s) about ${about} in ${user}'s inbox`, timeoutMs, async () => {
    found = (await inbox(user, password)).filter((m) => decoded(m).includes(about));
    return found.length >= count ? true : null;
  }, 250);
  return found;
}

const header = (raw: string, name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1]?.trim() ?? null;

/** The message with quoted-printable soft breaks and escapes undone, so its text can be searched. */
function decoded(raw: string): string {
  const bytes = raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

async function jobs(address: string) {
  return (await pool.query<{ id: string; state: string; attempts: number; last_error: string | null; kind: string }>(
    `SELECT id, state, attempts, last_error, kind FROM notice_jobs WHERE details->>'address' = $1 ORDER BY id`, [address])).rows;
}

const rotateApi = (daemon: TestDaemon, address: string, body: Record<string, unknown>) =>
  postJson(`${daemon.adminUrl}/v1/mailboxes/${address}/rotate`, { wait_ms: 0, ...body }, { authorization: `Bearer ${token}` });

describe('notices by mail through Postfix and Dovecot', () => {
  it('a rotation → exactly one notice to the mailbox and one to its recovery address, with the right headers and no password', async () => {
    const address = await mailbox(KEEPER);
    const r = await rotateApi(backend.daemon, address, { password: PW1 });
    expect(r.status, r.text).toBe(200);
    const [own] = await notices(address, PW1, address, 1);
    await notices(KEEPER, PW0, `recovery address of ${address}`, 1);
    await until('the jobs marked sent', 10_000, async () => ((await jobs(address)).every((j) => j.state === 'sent') ? true : null));
    expect(await notices(address, PW1, address, 1)).toHaveLength(1);

    expect(header(own!, 'From')).toBe(`Mail accounts <noreply@${DOMAIN}>`);
    expect(header(own!, 'To')).toBe(address);
    expect(header(own!, 'Subject')).toBe(`Password changed for ${address}`);
    expect(header(own!, 'Auto-Submitted')).toBe('auto-generated');
    expect(header(own!, 'Date')).toMatch(/^\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/);
    const [job] = await jobs(address);
    expect(header(own!, 'Message-ID')).toMatch(new RegExp(`^<notice\\.${job!.id}\\.\\d+@${DOMAIN.replace('.', '\\.')}>$`));
    expect(header(own!, 'Return-Path')).toBe('<>'); // null sender: nothing answers a notice, no loop
    expect(own).toMatch(/Content-Type: multipart\/alternative/);
    expect(own).toMatch(/Content-Type: text\/html/);
    const text = decoded(own!);
    expect(text).toContain('by an administrator through the admin API, from IP address 127.0.0.1');
    expect(text).toContain('If this was not you');
    expect(text).toContain('https://webmail.example.net/');
    expect(text).not.toContain(PW1);
    expect(text).not.toContain(PW0);
  });

  it('relay down → the notice is retried and delivered once the relay is back', async () => {
    const address = await mailbox();
    await pf!.stop();
    pf = null;
    try {
      await backend.daemon.cliOk(['rotate', address, '--password-stdin'], PW1);
      await until('a failed attempt recorded', 20_000, async () => {
        const [job] = await jobs(address);
        return job && job.attempts >= 1 && job.state === 'queued' && /ECONNREFUSED/.test(job.last_error ?? '') ? true : null;
      });
    } finally {
      await startRelay();
    }
    const [own] = await notices(address, PW1, address, 1);
    expect(decoded(own!)).toContain('by an administrator on the server (command line)');
    await until('the job marked sent', 10_000, async () => ((await jobs(address))[0]?.state === 'sent' ? true : null));
    expect((await jobs(address))[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(await notices(address, PW1, address, 1)).toHaveLength(1);
  });

  it('two daemons on one database → each change is mailed exactly once', async () => {
    second = await startTestDaemon({ databaseUrl: backend.cluster.url, nodeId: 'notices-n2', env: { ...backend.daemon.env, ...env() } });
    const address = await mailbox();
    let password = PW0;
    for (const d of [backend.daemon, second, backend.daemon, second]) {
      const r = await rotateApi(d, address, { generate: true });
      expect(r.status, r.text).toBe(200);
      password = r.body.generated_password;
    }
    await until('four jobs sent', 30_000, async () => {
      const j = await jobs(address);
      return j.length === 4 && j.every((x) => x.state === 'sent') ? true : null;
    });
    const got = await notices(address, password, `mailbox ${address} was changed`, 4);
    expect(got).toHaveLength(4);
    const ids = got.map((m) => header(m, 'Message-ID'));
    expect(new Set(ids).size).toBe(4);
    expect((await jobs(address)).map((j) => j.attempts)).toEqual([1, 1, 1, 1]);
  });

  it('expiry reminders: once per threshold, whichever daemon scans, and on the day it expires', async () => {
    const a = await mailbox();
    const clock = await mailbox(); // its reminder proves a later scan ran
    const expireIn = (address: string, interval: string) =>
      pool.query(`UPDATE mailboxes SET password_expires_at = now() + $2::interval WHERE address = $1`, [address, interval]);
    await expireIn(a, '2 days');
    const [first] = await notices(a, PW0, `Password of ${a} expires in`, 1);
    expect(header(first!, 'Subject')).toBe(`Password of ${a} expires in 2 days`);
    expect(decoded(first!)).toContain('Change it at https://webmail.example.net/');
    await expireIn(clock, '2 days');
    await notices(clock, PW0, `Password of ${clock} expires in`, 1);
    expect(await notices(a, PW0, `Password of ${a} expires`, 1)).toHaveLength(1);
    await expireIn(a, '12 hours');
    const both = await notices(a, PW0, `Password of ${a} expires`, 2);
    expect(both.map((m) => header(m, 'Subject'))).toEqual([`Password of ${a} expires in 2 days`, `Password of ${a} expires in 1 day`]);
    await expireIn(a, '-1 hour');
    const all = await notices(a, PW0, `Password of ${a} expires`, 3);
    expect(header(all[2]!, 'Subject')).toBe(`Password of ${a} expires today`);
    expect((await jobs(a)).map((j) => j.kind)).toEqual(['expiry_reminder', 'expiry_reminder', 'expiry_reminder']);
  });
});
