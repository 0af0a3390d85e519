import { BlockList, isIP } from 'node:net';
import type { AuthRow } from '../store/sql/rows.js';
import type { AuthRequest } from './results.js';
import { scopeOfService } from './app-password.js';

const unmapped = (ip: string) => ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').replace(/%[^%]+$/, '');
const familyOf = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 4 ? 'ipv4' : 'ipv6');

/** Which password a login may use: an app password's scope and expiry, and "mail clients must use app passwords". */
export class AppPasswordRules {
  private readonly webmail = new BlockList();
  private readonly anyWebmail: boolean;

  /** `webmailIps`: `addr/prefix` as the config normalises them. */
  constructor(webmailIps: readonly string[]) {
    for (const cidr of webmailIps) {
      const [addr, prefix] = cidr.split('/') as [string, string];
      this.webmail.addSubnet(addr, Number(prefix), familyOf(addr));
    }
    this.anyWebmail = webmailIps.length > 0;
  }

  /** The row's matched app password (if any) may log in to this service now. */
  usable(row: AuthRow, service: string, now = Date.now()): boolean {
    if (row.app_password_id === null) return false;
    const scope = scopeOfService(service);
    if (scope === null || !row.app_password_scopes!.includes(scope)) return false;
    return row.app_password_expires_at === null || row.app_password_expires_at.getTime() > now;
  }

  /**
   * The main password is refused for mail services when the mailbox or its
   * domain requires app passwords, unless the login comes from a webmail host.
   * The webmail host is the address Dovecot's peer really has (real_remote_ip):
   * with login_trusted_networks, Roundcube forwards its user's address as remote_ip.
   */
  mainPasswordRefused(row: AuthRow, req: AuthRequest): boolean {
    if (!row.require_app_passwords || scopeOfService(req.service) === null) return false;
    return !this.isWebmail(req.realRemoteIp ?? req.remoteIp);
  }

  private isWebmail(ip: string | null | undefined): boolean {
    if (!this.anyWebmail || !ip) return false;
    const a = unmapped(ip);
    return isIP(a) !== 0 && this.webmail.check(a, familyOf(a));
  }
}
