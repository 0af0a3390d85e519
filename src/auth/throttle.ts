/**
 * Failure counters per (user, ip) and per ip over a fixed window. Checked before
 * the database and argon2, so a brute-force run costs us a map lookup.
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

const MAX_TRACKED = 200_000;

export class Throttle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: ThrottleLimits) {}

  private count(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    if (b.resetAt <= now) {
      this.buckets.delete(key);
      return 0;
    }
    return b.count;
  }

  isBlocked(user: string, ip: string | null, now = Date.now()): boolean {
    const ipKey = `ip\0${ip ?? '-'}`;
    return this.count(`u\0${user}\0${ip ?? '-'}`, now) >= this.limits.perUserIp || (ip !== null && this.count(ipKey, now) >= this.limits.perIp);
  }

  recordFailure(user: string, ip: string | null, now = Date.now()): void {
    this.bump(`u\0${user}\0${ip ?? '-'}`, now);
    if (ip !== null) this.bump(`ip\0${ip}`, now);
  }

  recordSuccess(user: string, ip: string | null): void {
    this.buckets.delete(`u\0${user}\0${ip ?? '-'}`);
  }

  private bump(key: string, now: number): void {
    const b = this.buckets.get(key);
    if (b && b.resetAt > now) b.count++;
    else this.buckets.set(key, { count: 1, resetAt: now + this.limits.windowMs });
    if (this.buckets.size > MAX_TRACKED) this.sweep(now);
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
