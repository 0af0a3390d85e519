import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox, updateMailbox } from '../../src/accounts/mailboxes.js';
import { setDomainNotices } from '../../src/accounts/domains.js';
import { rotatePassword } from '../../src/rotation/rotate.js';
import { startNoticeWorker, type NoticeWorker } from '../../src/notices/worker.js';
import type { Mailer } from '../../src/notices/mailer.js';
import { asText, type RenderedNotice } from '../../src/notices/templates.js';
import { claimNoticeJobs, enqueueDueReminders, finishNoticeJob, noticeJobCounts } from '../../src/store/sql/notices.js';
import type { NoticeJobRow } from '../../src/store/sql/rows.js';
import { createMetrics } from '../../src/observability/metrics.js';

/**
 * The notice job queue against the real PostgreSQL: enqueued in the change's
 * transaction, claimed by one node at a time, retried with back-off, reminders
 * once per threshold. The relay is a recording Mailer here (the e2e file sends
 * through a real Postfix to a real Dovecot); everything else is the real code.
 * Each test uses mailboxes of its own.
 */
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let ctx2: TestContext;
const workers: NoticeWorker[] = [];
const PW = ['Correct-Horse-Battery-9', 'Lagoon-Biscuit-Falcon-Rivet-5', 'Orbit-Velvet-Cactus-Harbor-3'];
const DOMAIN = 'notices.example';
const FROM = 'Accounts <noreply@notices.example>';
const ENV = {
  MAILPASSD_NOTICES_ENABLED: 'true',
  MAILPASSD_NOTICES_FROM: FROM,
  // The tests drive the worker (poke, scan); the timers stay out of the way.
  MAILPASSD_NOTICES_POLL_INTERVAL_MS: '600000',
  MAILPASSD_NOTICES_SCAN_INTERVAL_MS: '86400000',
  MAILPASSD_NOTICES_RETRY_BASE_SECONDS: '60',
  MAILPASSD_NOTICES_MAX_ATTEMPTS: '3',
};
let n = 0;

interface Sent {
  node: string;
  job: NoticeJobRow;
  notice: RenderedNotice;
}

/** A relay that records what it was handed; `fail` makes the next sends fail like a relay that is down (or refuses). */
function recordingMailer(node: string, sent: Sent[]) {
  const state = { fail: null as null | (() => Error) };
  const mailer: Mailer = {
    async send(job, notice) {
      await new Promise((r) => setImmediate(r)); // let the other node interleave
      if (state.fail) throw state.fail();
      sent.push({ node, job, notice });
    },
    close: () => undefined,
  };
  return { mailer, state };
}

function worker(c: TestContext, node: string, sent: Sent[]) {
  const m = recordingMailer(node, sent);
  const w = startNoticeWorker(c, null, m.mailer);
  workers.push(w);
  return { w, state: m.state };
}

async function mailbox(opts: { recovery?: string; language?: string } = {}): Promise<string> {
  const address = `user${++n}@${DOMAIN}`;
  await createMailbox(ctx, { actor: 'cli:test', sourceIp: null }, { address, displayName: null, password: { kind: 'given', value: PW[0]! }, recoveryAddress: opts.recovery ?? null, noticeLanguage: opts.language ?? null });
  return address;
}

const rotate = (address: string, actor = 'token:ops', sourceIp: string | null = '192.0.2.7', reason: 'rotate' | 'self_service' = 'rotate', pw = PW[1]!) =>
  rotatePassword(ctx, { actor, sourceIp }, { address, password: { kind: 'given', value: pw }, kick: false, reason });

async function jobs(address: string): Promise<NoticeJobRow[]> {
  return (await ctx.pool.query<NoticeJobRow>(`SELECT j.* FROM notice_jobs j WHERE j.details->>'address' = $1 ORDER BY id`, [address])).rows;
}

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url, { ...ENV, MAILPASSD_NODE_ID: 'node-a' });
  ctx2 = await makeContext(db.url, { ...ENV, MAILPASSD_NODE_ID: 'node-b' });
  await addDomain(ctx, { actor: 'cli:test', sourceIp: null }, DOMAIN);
}, 60_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  await ctx?.close();
  await ctx2?.close();
  await db?.drop();
});

describe('password-changed notices: queued with the change', () => {
  it('one job per recipient (mailbox and recovery address), with when, how and from where, never the password', async () => {
    const address = await mailbox({ recovery: 'Owner@Elsewhere.example' });
    await rotate(address);
    const queued = await jobs(address);
    expect(queued.map((j) => [j.kind, j.recipient, j.state])).toEqual([
      ['password_changed', address, 'queued'],
      ['password_changed', 'owner@elsewhere.example', 'queued'],
    ]);
    expect(queued[0]!.details).toMatchObject({ address, channel: 'api', source_ip: '192.0.2.7', credential_version: 2 });
    expect(JSON.stringify(queued)).not.toContain(PW[1]);

    const sent: Sent[] = [];
    await worker(ctx, 'a', sent).w.poke();
    expect(sent.map((s) => s.job.recipient).sort()).toEqual([address, 'owner@elsewhere.example'].sort());
    for (const s of sent) {
      const text = asText(s.notice);
      expect(text).toContain(`The password of the mailbox ${address} was changed on`);
      expect(text).toContain('by an administrator through the admin API, from IP address 192.0.2.7');
      expect(text).toContain('If this was not you');
      expect(text).not.toContain(PW[1]);
      expect(text).not.toMatch(/reset\?|token=/i);
    }
    expect(asText(sent.find((s) => s.job.recipient !== address)!.notice)).toContain(`recovery address of ${address}`);
    expect((await jobs(address)).map((j) => j.state)).toEqual(['sent', 'sent']);
  });

  it('says how: the CLI, self-service (Roundcube), the console; in the mailbox\'s language', async () => {
    const cli = await mailbox();
    const self = await mailbox({ language: 'nl' });
    const consoleBox = await mailbox();
    await rotate(cli, 'cli:root', null);
    await rotate(self, `self:${self}`, '198.51.100.4', 'self_service');
    await rotate(consoleBox, `console:admin@${DOMAIN}`, '203.0.113.9');
    expect((await jobs(cli))[0]!.details).toMatchObject({ channel: 'cli', source_ip: null });
    expect((await jobs(self))[0]).toMatchObject({ language: 'nl', details: { channel: 'self_service', source_ip: '198.51.100.4' } });
    expect((await jobs(consoleBox))[0]!.details).toMatchObject({ channel: 'console' });
    const sent: Sent[] = [];
    await worker(ctx, 'a', sent).w.poke();
    const nl = sent.find((s) => s.job.recipient === self)!;
    expect(nl.notice.subject).toBe(`Wachtwoord gewijzigd voor ${self}`);
    expect(asText(nl.notice)).toContain('door de eigenaar van de mailbox');
  });

  it('a change that rolls back queues nothing; notices off for the domain queue nothing', async () => {
    const address = await mailbox();
    // Make the change's own transaction fail after the notice was queued (the audit insert comes later).
    await ctx.pool.query(`CREATE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`);
    await ctx.pool.query(`CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.target = '${address}') EXECUTE FUNCTION test_fail_audit()`);
    try {
      await expect(rotate(address)).rejects.toThrow(/audit refused/);
    } finally {
      await ctx.pool.query('DROP TRIGGER test_fail_audit ON audit_log');
      await ctx.pool.query('DROP FUNCTION test_fail_audit()');
    }
    expect(await jobs(address)).toEqual([]);

    await addDomain(ctx, { actor: 'cli:test', sourceIp: null }, 'quiet.example');
    await setDomainNotices(ctx, { actor: 'cli:test', sourceIp: null }, 'quiet.example', false, undefined);
    await createMailbox(ctx, { actor: 'cli:test', sourceIp: null }, { address: 'q@quiet.example', displayName: null, password: { kind: 'given', value: PW[0]! } });
    await rotatePassword(ctx, { actor: 'cli:root', sourceIp: null }, { address: 'q@quiet.example', password: { kind: 'given', value: PW[1]! }, kick: false, reason: 'rotate' });
    expect(await jobs('q@quiet.example')).toEqual([]);
  });

  it('notices off in the config: nothing is queued (no backlog to burst out later)', async () => {
    const off = await makeContext(db.url, { MAILPASSD_NODE_ID: 'node-off' });
    try {
      const address = await mailbox();
      await rotatePassword(off, { actor: 'cli:root', sourceIp: null }, { address, password: { kind: 'given', value: PW[1]! }, kick: false, reason: 'rotate' });
      expect(await jobs(address)).toEqual([]);
    } finally {
      await off.close();
    }
  });
});

describe('sending: exactly once per cluster, retried while the relay is down', () => {
  it('two nodes draining one queue send every job once', async () => {
    const addresses = await Promise.all(Array.from({ length: 12 }, () => mailbox({ recovery: `r${n}@elsewhere.example` })));
    for (const a of addresses) await rotate(a);
    const ids = (await Promise.all(addresses.map(jobs))).flat().map((j) => j.id);
    expect(ids).toHaveLength(24);
    const sent: Sent[] = [];
    const a = worker(ctx, 'a', sent);
    const b = worker(ctx2, 'b', sent);
    await Promise.all([a.w.poke(), b.w.poke(), a.w.poke(), b.w.poke()]);
    const mine = sent.filter((s) => ids.includes(s.job.id)).map((s) => s.job.id);
    expect(mine.sort()).toEqual([...ids].sort());
    expect(new Set(mine).size).toBe(mine.length);
  });

  it('relay down → the job waits with back-off and goes out later; a 5xx or spent attempts → failed', async () => {
    const address = await mailbox();
    await rotate(address);
    const sent: Sent[] = [];
    const metrics = createMetrics(undefined, () => noticeJobCounts(ctx.pool));
    const m = recordingMailer('a', sent);
    const w = startNoticeWorker(ctx, metrics, m.mailer);
    workers.push(w);
    m.state.fail = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' });
    await w.poke();
    let [job] = await jobs(address);
    expect(job).toMatchObject({ state: 'queued', attempts: 1, last_error: 'connect ECONNREFUSED 127.0.0.1:25' });
    expect(await metrics.registry.getSingleMetricAsString('mailpassd_notices')).toMatch(/mailpassd_notices\{state="queued"\} [1-9]/);
    const wait = (job!.run_at.getTime() - Date.now()) / 1000;
    expect(wait).toBeGreaterThan(30); // retry_base_seconds = 60, not at once
    m.state.fail = null;
    await w.poke();
    expect(sent.filter((s) => s.job.id === job!.id)).toEqual([]); // not due yet
    await ctx.pool.query('UPDATE notice_jobs SET run_at = now() WHERE id = $1', [job!.id]); // time passes
    await w.poke();
    expect(sent.filter((s) => s.job.id === job!.id)).toHaveLength(1);
    [job] = await jobs(address);
    expect(job).toMatchObject({ state: 'sent', attempts: 2 });
    expect(await metrics.registry.getSingleMetricAsString('mailpassd_notices_failed_total')).toContain('outcome="retry"} 1');
    expect(await metrics.registry.getSingleMetricAsString('mailpassd_notices_sent_total')).toMatch(/kind="password_changed"\} [1-9]/);

    const refused = await mailbox();
    await rotate(refused);
    m.state.fail = () => Object.assign(new Error('550 5.1.1 unknown user'), { responseCode: 550 });
    await w.poke();
    expect((await jobs(refused))[0]).toMatchObject({ state: 'failed', attempts: 1, last_error: '550 5.1.1 unknown user' });
    m.state.fail = null;
  });

  it('a node that dies between claim and mark: its job is taken over after the lease, and its late mark is refused', async () => {
    const address = await mailbox();
    await rotate(address);
    const [job] = await jobs(address);
    // node-a claims everything due (this job among them) and then "dies".
    const claimed = (await claimNoticeJobs(ctx.pool, 'node-a', 1000, 300)).find((j) => j.id === job!.id)!;
    expect(claimed).toMatchObject({ state: 'sending', claimed_by: 'node-a' });
    const sent: Sent[] = [];
    const b = worker(ctx2, 'b', sent);
    await b.w.poke();
    expect(sent.filter((s) => s.job.id === job!.id)).toEqual([]); // the lease holds
    await ctx.pool.query(`UPDATE notice_jobs SET claimed_at = now() - interval '301 seconds' WHERE id = $1`, [job!.id]);
    await b.w.poke();
    expect(sent.filter((s) => s.job.id === job!.id).map((s) => s.node)).toEqual(['b']);
    expect(await finishNoticeJob(ctx.pool, job!.id, claimed.claim_token!, 'sent', null)).toBe(false);
    expect((await jobs(address))[0]).toMatchObject({ state: 'sent', claimed_by: 'node-b', attempts: 2 });
  });
});

describe('expiry reminders', () => {
  const setExpiry = (address: string, sql: string) => ctx.pool.query(`UPDATE mailboxes SET password_expires_at = ${sql} WHERE address = $1`, [address]);
  const reminders = async (address: string) => (await jobs(address)).filter((j) => j.kind === 'expiry_reminder').map((j) => j.reminder_days);

  it('one per threshold and credential version, the nearest threshold only, whichever node scans and however often', async () => {
    const address = await mailbox();
    const a = worker(ctx, 'a', []).w;
    const b = worker(ctx2, 'b', []).w;
    await setExpiry(address, `now() + interval '20 days'`);
    await a.scan();
    expect(await reminders(address)).toEqual([]);
    await setExpiry(address, `now() + interval '2 days'`); // 14 and 3 have passed: only 3 is sent
    await Promise.all([a.scan(), b.scan(), a.scan()]);
    await Promise.all([a.scan(), b.scan()]);
    expect(await reminders(address)).toEqual([3]);
    await setExpiry(address, `now() + interval '12 hours'`);
    await b.scan();
    await a.scan();
    expect(await reminders(address)).toEqual([3, 1]);
    await setExpiry(address, `now() - interval '1 hour'`);
    await a.scan();
    await b.scan();
    expect(await reminders(address)).toEqual([3, 1, 0]);
    await setExpiry(address, `now() - interval '3 days'`); // long expired: no more
    await a.scan();
    expect(await reminders(address)).toEqual([3, 1, 0]);
  });

  it('a reminder says when and how to change it; one whose password changed before it went out is skipped', async () => {
    const address = await mailbox();
    const stale = await mailbox();
    await ctx.pool.query(`UPDATE mailboxes SET password_expires_at = now() + interval '2 days 1 hour' WHERE address = ANY($1)`, [[address, stale]]);
    expect(await enqueueDueReminders(ctx.pool, ctx.config.notices.reminder_days)).toBeGreaterThanOrEqual(2);
    await rotate(stale, 'cli:root', null); // a new credential version: its reminder is moot
    const sent: Sent[] = [];
    await worker(ctx, 'a', sent).w.poke();
    const mine = sent.filter((s) => s.job.kind === 'expiry_reminder' && [address, stale].includes(s.job.recipient));
    expect(mine.map((s) => s.job.recipient)).toEqual([address]);
    expect(mine[0]!.notice.subject).toBe(`Password of ${address} expires in 3 days`);
    expect(asText(mine[0]!.notice)).toContain('Change it in your webmail');
    expect((await jobs(stale)).find((j) => j.kind === 'expiry_reminder')).toMatchObject({ state: 'skipped' });
  });

  it('a disabled mailbox gets no reminder', async () => {
    const address = await mailbox();
    await updateMailbox(ctx, { actor: 'cli:test', sourceIp: null }, address, { enabled: false });
    await setExpiry(address, `now() + interval '1 day'`);
    await worker(ctx, 'a', []).w.scan();
    expect(await reminders(address)).toEqual([]);
  });
});

describe('retention', () => {
  it('prunes finished password-changed jobs after retention_days, keeps a reminder while its threshold could come up again', async () => {
    const address = await mailbox();
    await rotate(address);
    await setExpiryFor(address, `now() + interval '10 days'`);
    const sent: Sent[] = [];
    const w = worker(ctx, 'a', sent).w;
    await w.scan();
    await w.poke();
    expect((await jobs(address)).map((j) => [j.kind, j.state])).toEqual([
      ['password_changed', 'sent'],
      ['expiry_reminder', 'sent'],
    ]);
    await ctx.pool.query(`UPDATE notice_jobs SET finished_at = now() - interval '31 days' WHERE details->>'address' = $1`, [address]);
    await w.scan();
    expect((await jobs(address)).map((j) => j.kind)).toEqual(['expiry_reminder']);
  });
});

async function setExpiryFor(address: string, sql: string): Promise<void> {
  await ctx.pool.query(`UPDATE mailboxes SET password_expires_at = ${sql} WHERE address = $1`, [address]);
}
