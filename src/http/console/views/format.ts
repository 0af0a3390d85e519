import type { Catalog } from '../i18n/index.js';

/** A date as YYYY-MM-DD HH:MM UTC: the same for every reader, whatever their zone. */
export const when = (d: Date | string) => new Date(d).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
export const day = (d: Date | string) => new Date(d).toISOString().slice(0, 10);

export function age(t: Catalog, since: Date | string, now = Date.now()): string {
  const days = Math.floor((now - new Date(since).getTime()) / 86_400_000);
  return days <= 0 ? t.today : t.days(days);
}

/** `/domains/<d>/mailboxes/<address>/<action>`, each part escaped. */
export const mailboxPath = (domain: string, address: string, action: string) =>
  `/domains/${encodeURIComponent(domain)}/mailboxes/${encodeURIComponent(address)}/${action}`;
export const domainPath = (domain: string, rest = '') => `/domains/${encodeURIComponent(domain)}${rest}`;
