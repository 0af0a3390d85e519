import type { Catalog } from './i18n/index.js';

/** The notices a redirect may ask a page to show: a code from the URL picks the text; only `subject` is free (and escaped). */
export function noticeText(t: Catalog, code: string | undefined, subject: string | undefined): string | null {
  const s = subject ?? '';
  switch (code) {
    case 'domain_added':
      return t.domainAdded(s);
    case 'mailbox_added':
      return t.mailboxAdded(s);
    case 'mailbox_deleted':
      return t.mailboxDeleted(s);
    case 'mailbox_disabled':
      return t.mailboxDisabledNote(s);
    case 'mailbox_enabled':
      return t.mailboxEnabledNote(s);
    case 'totp_reset':
      return t.totpResetNote(s);
    case 'totp_none':
      return t.totpNoneNote(s);
    case 'sessions_closed':
      return `${t.closeSessions}: ${s}`;
    case 'password_changed':
      return `${t.changePassword}: ${s}`;
    case 'policy_saved':
      return t.policySaved;
    default:
      return null;
  }
}

export const withNotice = (path: string, code: string, subject?: string) => {
  const q = new URLSearchParams({ notice: code, ...(subject !== undefined && { subject }) });
  return `${path}${path.includes('?') ? '&' : '?'}${q.toString()}`;
};
