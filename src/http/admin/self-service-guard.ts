import { BlockList, isIP } from 'node:net';
import type { Config } from '../../config/index.js';
import { outcomeOf, type AuthResult } from '../../auth/results.js';
import { Throttle } from '../../auth/throttle.js';

/**
 * What stands between the public self-service route and a password change:
 * the end user's address (only as a trusted caller forwards it), a throttle of
 * its own, and the browser-origin check. The HTTP peer is the webmail host for
 * every user, so throttling by it (as logins are) let one user's wrong guesses
 * lock out everyone's self-service and the webmail's IMAP logins.
 */

const unmapped = (ip: string) => ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
const familyOf = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 4 ? 'ipv4' : 'ipv6');

export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** `cidrs` as the config normalises them: `addr/prefix`. */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [addr, prefix] = cidr.split('/') as [string, string];
      this.list.addSubnet(addr, Number(prefix), familyOf(addr));
    }
    this.empty = cidrs.length === 0;
  }

  has(ip: string): boolean {
    const a = unmapped(ip);
    return !this.empty && isIP(a) !== 0 && this.list.check(a, familyOf(a));
  }

  /**
   * The end user's address from X-Forwarded-For, read right to left past our own
   * proxies; null unless the peer itself is trusted (anyone else could name any
   * address and get a fresh bucket per request) or when an entry is not an address.
   * `callerTrusted`: the caller proved itself otherwise (the self-service shared
   * secret), so its header is believed whatever its address.
   */
  clientOf(peer: string | undefined, header: string | string[] | undefined, callerTrusted = false): string | null {
    if (peer === undefined || header === undefined || !(callerTrusted || this.has(peer))) return null;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map((h) => unmapped(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return null;
      if (!this.has(hop)) return hop;
    }
    return null;
  }
}

export type ThrottledBy = 'mailbox' | 'client_ip';

/**
 * Failures counted per mailbox (from every client together) and, when a trusted
 * caller forwards it, per end-user address. Never by the HTTP peer.
 */
export class SelfServiceThrottle {
  private readonly mailboxes: Throttle;
  private readonly clients: Throttle;

  constructor(limits: Config['self_service']) {
    const windowMs = limits.throttle_window_seconds * 1000;
    // Keyed (mailbox, no address): only the per-user-ip bucket is ever used.
    this.mailboxes = new Throttle({ perUserIp: limits.max_failures_per_mailbox, perIp: limits.max_failures_per_mailbox, windowMs });
    this.clients = new Throttle({ perUserIp: limits.max_failures_per_client_ip, perIp: limits.max_failures_per_client_ip, windowMs });
  }

  /** Null when the attempt may go ahead (it is then charged until settled); otherwise which limit refused it. */
  tryAcquire(mailbox: string, clientIp: string | null): ThrottledBy | null {
    if (!this.mailboxes.tryAcquire(mailbox, null)) return 'mailbox';
    if (clientIp !== null && !this.clients.tryAcquire(mailbox, clientIp)) {
      this.mailboxes.settle(mailbox, null, 'unknown');
      return 'client_ip';
    }
    return null;
  }

  settle(mailbox: string, clientIp: string | null, result: AuthResult): void {
    const outcome = outcomeOf(result);
    this.mailboxes.settle(mailbox, null, outcome);
    if (clientIp !== null) this.clients.settle(mailbox, clientIp, outcome);
  }
}

/**
 * A browser always sends Origin on a cross-origin POST; a server-side caller
 * (Roundcube's PHP) sends none. A form on another site must not be able to make
 * a logged-in user's browser post here. Same origin = the Host the request was
 * sent to (the scheme may be terminated by a proxy in front), or a configured one.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, some redirects) and garbage
  }
  if (allowed.includes(url.origin)) return true;
  return host !== undefined && url.host === host.toLowerCase();
}

/**
 * Policy checks of candidate passwords, counted per mailbox whatever their result:
 * each costs zxcvbn and an argon2 verification per remembered password, and a
 * check against the history is a guess at an old password.
 */
export class PolicyCheckThrottle {
  private readonly mailboxes: Throttle;

  constructor(limits: Config['self_service']) {
    const max = limits.max_checks_per_mailbox;
    this.mailboxes = new Throttle({ perUserIp: max, perIp: max, windowMs: limits.throttle_window_seconds * 1000 });
  }

  /** False when the mailbox has had its checks for this window; otherwise the check is counted. */
  take(mailbox: string): boolean {
    if (!this.mailboxes.tryAcquire(mailbox, null)) return false;
    this.mailboxes.settle(mailbox, null, 'failure');
    return true;
  }
}
