import nodemailer from 'nodemailer';
import type { Config } from '../config/index.js';
import type { NoticeJobRow } from '../store/sql/rows.js';
import { asHtml, asText, type Language, type RenderedNotice } from './templates.js';

export interface Mailer {
  send(job: NoticeJobRow, notice: RenderedNotice): Promise<void>;
  close(): void;
}

/** The domain of the configured From, for Message-IDs. */
function fromDomain(from: string): string {
  const m = /@([^\s>]+)/.exec(from);
  return m?.[1]?.toLowerCase() ?? 'localhost';
}

/**
 * The same for every attempt at one job, so a notice that went out twice (a
 * node died between the relay's 250 and marking the job sent, and another node
 * took it over after the lease) is recognisable as one message: a client or a
 * Sieve duplicate rule can fold it.
 */
export function messageIdOf(job: Pick<NoticeJobRow, 'id' | 'created_at'>, from: string): string {
  return `<notice.${job.id}.${job.created_at.getTime()}@${fromDomain(from)}>`;
}

/**
 * Hands notices to the configured relay. The envelope sender is null (`<>`,
 * RFC 3834 §3.3): a bounce or an out-of-office reply to a notice has nowhere to
 * go, so no loop can start; `Auto-Submitted: auto-generated` tells vacation
 * responders and Sieve not to answer at all.
 */
export function createMailer(config: Config['notices'], from: string): Mailer {
  const transport = nodemailer.createTransport({
    host: config.smtp_host,
    port: config.smtp_port,
    secure: false,
    ...(config.smtp_starttls ? { requireTLS: true } : { ignoreTLS: true }),
    connectionTimeout: config.smtp_timeout_ms,
    greetingTimeout: config.smtp_timeout_ms,
    socketTimeout: config.smtp_timeout_ms,
  });
  return {
    async send(job, notice) {
      await transport.sendMail({
        from,
        to: job.recipient,
        subject: notice.subject,
        text: asText(notice),
        html: asHtml(notice, job.language as Language),
        messageId: messageIdOf(job, from),
        date: new Date(),
        envelope: { from: '', to: [job.recipient] },
        headers: {
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'All',
          Precedence: 'bulk',
          'Content-Language': job.language,
        },
      });
    },
    close: () => transport.close(),
  };
}

/** A 5xx answer is the relay's final word (unknown recipient, policy): retrying repeats it. */
export function isPermanent(err: unknown): boolean {
  const code = (err as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}
