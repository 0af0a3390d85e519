/**
 * Failure counters per (user, ip) and per ip over a fixed window. An attempt is
 * charged when it starts and refunded when it succeeds, so a burst of parallel
 * guesses cannot all pass the check before the first failure is counted.
 * Checked before the database and argon2: a brute-force run costs us a map lookup.
 */
interface Bucket {
  count: number;
  resetAt: number;
}

export interface ThrottleLimits {
  perUserIp: number;
  perIp: number;
  windowMs: number;
}

export type Outcome = 'success' | 'failure' | 'unknown';

const MAX_TRACKED = 200_000;

export class Throttle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: ThrottleLimits) {}

  /** False when over a limit; otherwise the attempt is charged until settled. */
  tryAcquire(user: string, ip: string | null, now = Date.now()): boolean {
    const userKey = userIpKey(user, ip);
    if (this.count(userKey, now) >= this.limits.perUserIp) return false;
    if (ip !== null && this.count(ipKey(ip), now) >= this.limits.perIp) return false;
    this.bump(userKey, now, 1);
    if (ip !== null) this.bump(ipKey(ip), now, 1);
    return true;
  }

  /** A success clears the (user, ip) record and refunds the ip; an unknown outcome (database down) refunds both. */
  settle(user: string, ip: string | null, outcome: Outcome, now = Date.now()): void {
    if (outcome === 'failure') return;
    if (outcome === 'success') this.buckets.delete(userIpKey(user, ip));
    else this.bump(userIpKey(user, ip), now, -1);
    if (ip !== null) this.bump(ipKey(ip), now, -1);
  }

  private count(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    if (b.resetAt <= now) {
      this.buckets.delete(key);
      return 0;
    }
    return b.count;
  }

  private bump(key: string, now: number, by: 1 | -1): void {
    const b = this.buckets.get(key);
    if (b && b.resetAt > now) {
      b.count = Math.max(0, b.count + by);
      if (b.count === 0) this.buckets.delete(key);
    } else if (by > 0) {
      this.buckets.set(key, { count: 1, resetAt: now + this.limits.windowMs });
      if (this.buckets.size > MAX_TRACKED) this.sweep(now);
    }
  }

  /** Drops expired buckets; if still over the cap, the oldest go (bounded memory under a spray). */
  sweep(now = Date.now()): void {
    for (const [k, b] of this.buckets) if (b.resetAt <= now) this.buckets.delete(k);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= MAX_TRACKED) break;
      this.buckets.delete(k);
    }
  }
}

const userIpKey = (user: string, ip: string | null) => `u\0${user}\0${ip ?? '-'}`;
const ipKey = (ip: string) => `ip\0${ip}`;
