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
