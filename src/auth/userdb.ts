import type { Config } from '../config/index.js';
import type { AuthRow } from '../store/sql/rows.js';

/** Expands `%u` (address), `%n` (local part), `%d` (domain) — Dovecot's short variables. */
export function expandTemplate(template: string, address: string): string {
  if (!template.includes('%')) return template;
  const at = address.lastIndexOf('@');
  const vars: Record<string, string> = { u: address, n: address.slice(0, at), d: address.slice(at + 1), '%': '%' };
  return template.replace(/%([und%])/g, (_, v: string) => vars[v]!);
}

/**
 * The userdb answer: the row's own values, else the configured templates.
 * `userdb_` prefixes them for a passdb `ok` (Dovecot's prefetch userdb); built
 * field by field, since it runs on every successful login.
 */
export function userdbFields(row: AuthRow, defaults: Config['userdb'], prefix: '' | 'userdb_' = ''): Record<string, string> {
  const fields: Record<string, string> = {
    [`${prefix}home`]: row.home ?? expandTemplate(defaults.home, row.address),
    [`${prefix}uid`]: row.uid ?? defaults.uid,
    [`${prefix}gid`]: row.gid ?? defaults.gid,
  };
  const mail = row.mail_location ?? (defaults.mail ? expandTemplate(defaults.mail, row.address) : null);
  if (mail) fields[`${prefix}mail`] = mail;
  if (row.quota_bytes !== null) fields[`${prefix}quota_rule`] = `*:bytes=${row.quota_bytes}`;
  return fields;
}
