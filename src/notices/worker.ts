import type { Context } from '../core/context.js';
import type { Metrics } from '../observability/metrics.js';
import { claimNoticeJobs, enqueueDueReminders, finishNoticeJob, pruneNoticeJobs, reminderStillDue, retryNoticeJob } from '../store/sql/notices.js';
import type { NoticeJobRow } from '../store/sql/rows.js';
import type { NoticeChannel } from './channel.js';
import { createMailer, isPermanent, type Mailer } from './mailer.js';
import { renderNotice, type NoticeContent } from './templates.js';

export interface NoticeWorker {
  /** Sends what is due now; resolves when this round (and any asked for meanwhile) is done. */
  poke(): Promise<void>;
  /** Queues the reminders due now and prunes (sending is poke's); null when another node holds the scan lock. */
  scan(): Promise<number | null>;
  stop(): Promise<void>;
}

const BATCH = 20;
const DAY_MS = 86_400_000;

/**
 * Where the notices tell a user to change the password: `notices.change_url`,
 * else the web console's public URL when the config has one (`console.public_url`,
 * issue 13's console; read without depending on it being in this build).
 */
export function changeUrlOf(config: Context['config']): string | null {
  const consoleUrl = (config as { console?: { public_url?: string } }).console?.public_url;
  return config.notices.change_url ?? consoleUrl ?? null;
}

export function contentOf(job: NoticeJobRow, changeUrl: string | null, now: Date): NoticeContent {
  const d = job.details;
  const address = String(d['address']);
  if (job.kind === 'password_changed') {
    return {
      kind: 'password_changed',
      address,
      recipient: job.recipient,
      at: new Date(String(d['at'])),
      channel: d['channel'] as NoticeChannel,
      sourceIp: typeof d['source_ip'] === 'string' ? d['source_ip'] : null,
      changeUrl,
    };
  }
  const expiresAt = new Date(String(d['expires_at']));
  // Whole days left as the reminder goes out (it may go out late, after retries), never more than its threshold.
  const daysLeft = Math.min(job.reminder_days ?? 0, Math.max(0, Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS)));
  return { kind: 'expiry_reminder', address, expiresAt, daysLeft: job.reminder_days === 0 ? 0 : daysLeft, changeUrl };
}

/**
 * Exactly once per cluster, as far as SMTP allows: a node claims due jobs
 * (FOR UPDATE SKIP LOCKED, so two nodes never claim one job), hands each to
 * the relay, then marks it sent — only if its claim is still the job's.
 * A failure goes back to the queue with a doubled delay, or to `failed` on a
 * 5xx or when the attempts are spent.
 *
 * The one window left is a crash (or a lost database) between the relay's
 * "250 queued" and the mark: the job stays `sending`, and after
 * notices.lease_seconds another node takes it over and sends it again. That is
 * at-least-once, not exactly-once, for that window only; the Message-ID is the
 * same for every attempt at a job, so the duplicate is recognisable. Marking
 * before sending would turn the window into a lost notice instead, which is
 * worse for a security notice.
 *
 * The reminder scan and the prune run on whichever node gets the scan lock.
 */
export function startNoticeWorker(ctx: Context, metrics: Metrics | null, mailer: Mailer | null = null): NoticeWorker {
  const { config, pool, log } = ctx;
  const cfg = config.notices;
  const from = cfg.from!;
  const smtp = mailer ?? createMailer(cfg, from);
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;

  const settle = async (job: NoticeJobRow): Promise<void> => {
    const token = job.claim_token!;
    if (job.kind === 'expiry_reminder' && !(await reminderStillDue(pool, job))) {
      await finishNoticeJob(pool, job.id, token, 'skipped', null);
      return;
    }
    const now = new Date();
    const notice = renderNotice(contentOf(job, changeUrlOf(config), now), job.language);
    try {
      await smtp.send(job, notice);
    } catch (err) {
      const error = String((err as Error).message ?? err).split('\n')[0]!.slice(0, 500);
      const final = isPermanent(err) || job.attempts >= cfg.max_attempts;
      metrics?.noticesFailed.inc({ kind: job.kind, outcome: final ? 'gave_up' : 'retry' });
      if (final) {
        log.error({ notice_id: job.id, kind: job.kind, recipient: job.recipient, attempts: job.attempts, error }, 'notice not sent; giving up');
        await finishNoticeJob(pool, job.id, token, 'failed', error);
      } else {
        const delay = Math.min(cfg.retry_max_seconds, cfg.retry_base_seconds * 2 ** Math.min(job.attempts - 1, 30));
        log.warn({ notice_id: job.id, kind: job.kind, attempt: job.attempts, retry_in_s: delay, error }, 'notice not sent; will retry');
        await retryNoticeJob(pool, job.id, token, delay, error);
      }
      return;
    }
    metrics?.noticesSent.inc({ kind: job.kind });
    const marked = await finishNoticeJob(pool, job.id, token, 'sent', null);
    if (!marked) log.warn({ notice_id: job.id }, 'notice sent, but its claim had been taken over (lease expired): it may arrive twice');
    else log.info({ notice_id: job.id, kind: job.kind, recipient: job.recipient }, 'notice sent');
  };

  const drain = async (): Promise<void> => {
    for (;;) {
      if (stopped) return;
      const jobs = await claimNoticeJobs(pool, config.node_id, BATCH, cfg.lease_seconds);
      for (const job of jobs) {
        if (stopped) return;
        await settle(job);
      }
      if (jobs.length < BATCH) return;
    }
  };

  const poke = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await drain();
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'notice queue not reachable; will retry');
        }
      } while (again && !stopped);
      running = null;
    })();
    return running;
  };

  const scan = async (): Promise<number | null> => {
    const queued = await enqueueDueReminders(pool, cfg.reminder_days);
    if (queued === null) return null;
    if (queued > 0) log.info({ queued }, 'expiry reminders queued');
    await pruneNoticeJobs(pool, cfg.retention_days);
    return queued;
  };
  const scanQuietly = (): Promise<unknown> => scan().catch((err: Error) => log.warn({ err: err.message }, 'reminder scan failed; will retry'));

  const pollTimer = setInterval(() => void poke(), cfg.poll_interval_ms);
  const scanTimer = setInterval(() => void scanQuietly().then(poke), cfg.scan_interval_ms);
  // What was queued while no daemon ran goes out at start; a caller's first round waits for this one.
  const startup = scanQuietly().then(() => poke());

  return {
    poke: () => startup.then(poke),
    scan: () => startup.then(scan),
    stop: async () => {
      await startup;
      stopped = true;
      clearInterval(pollTimer);
      clearInterval(scanTimer);
      await running;
      smtp.close();
    },
  };
}
