import type { Config } from '../config/index.js';
import type { AuthRow } from '../store/sql/rows.js';

/** Expands `%u` (address), `%n` (local part), `%d` (domain) — Dovecot's short variables. */
export function expandTemplate(template: string, address: string): string {
  const at = address.lastIndexOf('@');
  const vars: Record<string, string> = { u: address, n: address.slice(0, at), d: address.slice(at + 1), '%': '%' };
  return template.replace(/%([und%])/g, (_, v: string) => vars[v]!);
}

/** The userdb answer: the row's own values, else the configured templates. */
export function userdbFields(row: AuthRow, defaults: Config['userdb']): Record<string, string> {
  const fields: Record<string, string> = {
    home: row.home ?? expandTemplate(defaults.home, row.address),
    uid: row.uid ?? defaults.uid,
    gid: row.gid ?? defaults.gid,
  };
  const mail = row.mail_location ?? (defaults.mail ? expandTemplate(defaults.mail, row.address) : null);
  if (mail) fields.mail = mail;
  if (row.quota_bytes !== null) fields.quota_rule = `*:bytes=${row.quota_bytes}`;
  return fields;
}

/** passdb `ok` carries the userdb fields prefixed, for Dovecot's prefetch userdb. */
export function prefetchExtra(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [`userdb_${k}`, v]));
}
