import { isIPv4, isIPv6 } from 'node:net';

/**
 * Failure counters per (user, ip), per ip and per user (across ips), each over a
 * fixed window. A locked key is refused before the database (isLocked): a
 * brute-force run costs us a map lookup.
 *
 * Only failures lock a key, so a right password is never refused for having
 * been typed often or in parallel. An attempt that needs argon2 first takes a
 * share of each key's remaining budget (limit − failures): a parallel burst
 * cannot all pass before the first failure settles. An attempt beyond that
 * budget waits (acquire) for an earlier one to settle instead of being refused:
 * if that one was right, the waiter goes on; if the failures reach the limit,
 * every waiter is refused. So at most `limit` guesses per key ever reach argon2,
 * and 64 parallel right logins all succeed, a few of them a little later. A memo
 * hit needs no argon2 and takes no share (record).
 *
 * IPv6 addresses count per /64 (one host usually owns the whole prefix);
 * IPv4-mapped IPv6 counts as the IPv4 address.
 */
export interface ThrottleLimits {
  perUserIp: number;
  perIp: number;
  windowMs: number;
  /** Failures of one user across all ips; an ip that logged this user in within the window is exempt. Default: no cap. */
  perUser?: number;
  /** Keys tracked before the least recently used (never a locked or busy one) is forgotten. */
  maxTracked?: number;
  /** Attempts that may wait on one key before further ones are refused. */
  maxWaitingPerKey?: number;
}

export type Outcome = 'success' | 'failure' | 'unknown';

type Keys = Array<[key: string, limit: number]>;

interface Waiter {
  keys: Keys;
  resolve: (admitted: boolean) => void;
  /** The bucket it waits on, to leave it when the caller gives up. */
  on: Bucket | null;
}

interface Bucket {
  key: string;
  limit: number;
  failures: number;
  resetAt: number;
  inflight: number;
  /** (user, ip) only: a success in the window exempts this ip from the per-user cap. */
  trustedUntil: number;
  waiters: Waiter[];
}

type Verdict = { kind: 'admit' } | { kind: 'refuse' } | { kind: 'wait'; on: Bucket };

const DEFAULT_MAX_TRACKED = 200_000;
const DEFAULT_MAX_WAITING = 1_000;
/** Busy or locked buckets skipped per eviction before the map may grow past its cap. */
const EVICTION_TRIES = 8;

export class Throttle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perUser: number;
  private readonly maxTracked: number;
  private readonly maxWaiting: number;

  constructor(private readonly limits: ThrottleLimits) {
    this.perUser = limits.perUser ?? Number.MAX_SAFE_INTEGER;
    this.maxTracked = limits.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.maxWaiting = limits.maxWaitingPerKey ?? DEFAULT_MAX_WAITING;
  }

  get size(): number {
    return this.buckets.size;
  }

  /**
   * Admits at once or refuses: false both over a failure limit and when the
   * keys' budgets are taken by attempts in flight. For callers that cannot wait;
   * logins use acquire().
   */
  tryAcquire(user: string, ip: string | null, now = Date.now()): boolean {
    const keys = this.keysOf(user, ip);
    if (this.verdict(keys, now).kind !== 'admit') return false;
    this.charge(keys, now);
    return true;
  }

  /**
   * Admitted (true), refused (false), or, while earlier attempts on the same keys
   * are in flight, waits for them to settle. When `signal` aborts, the waiter
   * leaves the queue and gets false; the caller has already answered.
   */
  acquire(user: string, ip: string | null, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    const now = Date.now();
    const keys = this.keysOf(user, ip);
    const v = this.verdict(keys, now);
    if (v.kind === 'admit') {
      this.charge(keys, now);
      return Promise.resolve(true);
    }
    if (v.kind === 'refuse' || v.on.waiters.length >= this.maxWaiting) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        this.unwait(w);
        resolve(false);
      };
      const w: Waiter = {
        keys,
        on: null,
        resolve: (admitted) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(admitted);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wait(w, v.on);
    });
  }

  /**
   * Ends an admitted attempt. A failure counts against every key; a success
   * clears the (user, ip) record and exempts that ip from the per-user cap; an
   * unknown outcome (database down) only gives the attempt's share back.
   */
  settle(user: string, ip: string | null, outcome: Outcome, now = Date.now()): void {
    this.finish(this.keysOf(user, ip), outcome, now, true);
  }

  /** Whether a failure limit refuses (user, ip) now: checked before the database, a map lookup per key. */
  isLocked(user: string, ip: string | null, now = Date.now()): boolean {
    return this.verdict(this.keysOf(user, ip), now, true).kind === 'refuse';
  }

  /** The outcome of an attempt that took no share (it needed no argon2: a memo hit, an over-long password). */
  record(user: string, ip: string | null, outcome: Outcome, now = Date.now()): void {
    this.finish(this.keysOf(user, ip), outcome, now, false);
  }

  private finish(keys: Keys, outcome: Outcome, now: number, charged: boolean): void {
    let created = false;
    for (const [i, [key, limit]] of keys.entries()) {
      let b = this.buckets.get(key);
      if (!b) {
        // Evicted while idle, or never charged: only a failure or a (user, ip) success leaves a trace.
        if (outcome !== 'failure' && !(outcome === 'success' && i === 0)) continue;
        b = { key, limit, failures: 0, resetAt: 0, inflight: 0, trustedUntil: 0, waiters: [] };
        this.buckets.set(key, b);
        created = true;
      }
      this.expire(b, now);
      if (charged && b.inflight > 0) b.inflight--;
      if (outcome === 'failure') {
        if (b.failures === 0) b.resetAt = now + this.limits.windowMs;
        b.failures++;
      }
      if (outcome === 'success' && i === 0) {
        b.failures = 0;
        b.trustedUntil = now + this.limits.windowMs;
      }
    }
    for (const [key] of keys) {
      const b = this.buckets.get(key);
      if (b) this.wake(b, now);
    }
    for (const [key] of keys) {
      const b = this.buckets.get(key);
      if (b && this.idle(b, now)) this.buckets.delete(key);
    }
    if (created) this.evict(now);
  }

  /** Forgets every expired, idle key: O(n), for maintenance and tests, never on the login path. */
  sweep(now = Date.now()): void {
    for (const [k, b] of this.buckets) {
      this.expire(b, now);
      if (this.idle(b, now)) this.buckets.delete(k);
    }
  }

  /** [key, limit] for (user, ip), ip, user — the (user, ip) key first. */
  private keysOf(user: string, ip: string | null): Keys {
    const group = ip === null ? null : ipGroup(ip);
    const keys: Keys = [[`u\0${user}\0${group ?? '-'}`, this.limits.perUserIp]];
    if (group !== null) keys.push([`ip\0${group}`, this.limits.perIp]);
    keys.push([`user\0${user}`, this.perUser]);
    return keys;
  }

  private verdict(keys: Keys, now: number, failuresOnly = false): Verdict {
    const pair = this.buckets.get(keys[0]![0]);
    const trusted = pair !== undefined && pair.trustedUntil > now;
    let wait: Bucket | null = null;
    for (const [key, limit] of keys) {
      const b = this.buckets.get(key);
      if (!b) continue;
      this.expire(b, now);
      // A trusted ip is still charged for the per-user key (so settle stays symmetric), never refused by it.
      if (trusted && key.startsWith('user\0')) continue;
      if (b.failures >= limit) return { kind: 'refuse' };
      if (!failuresOnly && b.failures + b.inflight >= limit) wait ??= b;
    }
    return wait ? { kind: 'wait', on: wait } : { kind: 'admit' };
  }

  private charge(keys: Keys, now: number): void {
    for (const [key, limit] of keys) {
      let b = this.buckets.get(key);
      if (b) {
        // Map order is recency order: touching moves the key to the end.
        this.buckets.delete(key);
      } else {
        b = { key, limit, failures: 0, resetAt: 0, inflight: 0, trustedUntil: 0, waiters: [] };
      }
      b.inflight++;
      this.buckets.set(key, b);
    }
    this.evict(now);
  }

  private wait(w: Waiter, b: Bucket): void {
    w.on = b;
    b.waiters.push(w);
  }

  private unwait(w: Waiter): void {
    const b = w.on;
    if (!b) return;
    const i = b.waiters.indexOf(w);
    if (i >= 0) b.waiters.splice(i, 1);
    w.on = null;
    if (this.idle(b, Date.now()) && this.buckets.get(b.key) === b) this.buckets.delete(b.key);
  }

  /**
   * Re-decides the waiters of a bucket that just gave back budget, oldest first,
   * until one still finds no budget here: the ones behind it would not either.
   * When the bucket has locked, every waiter is refused in this one pass.
   */
  private wake(b: Bucket, now: number): void {
    while (b.waiters.length > 0) {
      const w = b.waiters[0]!;
      const v = this.verdict(w.keys, now);
      if (v.kind === 'wait' && v.on === b) return;
      b.waiters.shift();
      w.on = null;
      if (v.kind === 'admit') {
        this.charge(w.keys, now);
        w.resolve(true);
      } else if (v.kind === 'refuse') {
        w.resolve(false);
      } else {
        this.wait(w, v.on);
      }
    }
  }

  private expire(b: Bucket, now: number): void {
    if (b.failures > 0 && b.resetAt <= now) b.failures = 0;
  }

  private idle(b: Bucket, now: number): boolean {
    return b.inflight === 0 && b.waiters.length === 0 && (b.failures === 0 || b.resetAt <= now) && b.trustedUntil <= now;
  }

  /**
   * Constant time per insert: the least recently used keys go first, but a key
   * that is locked, in flight or has waiters is moved to the back instead of
   * forgotten, so filling the table never resets a lockout. Those are bounded by
   * the argon2 throughput and queue, so the table cannot grow far past its cap.
   */
  private evict(now: number): void {
    for (let tries = 0; this.buckets.size > this.maxTracked && tries < EVICTION_TRIES; tries++) {
      const key = this.buckets.keys().next().value!;
      const b = this.buckets.get(key)!;
      this.buckets.delete(key);
      this.expire(b, now);
      const pinned = b.inflight > 0 || b.waiters.length > 0 || b.failures >= b.limit;
      if (pinned) this.buckets.set(key, b);
    }
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The throttle key for an address: IPv4 as is, IPv6 by /64; anything else shares one key. */
export function ipGroup(ip: string): string {
  if (IPV4.test(ip)) return ip;
  const bare = ip.replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return 'invalid';
  const groups = expandIPv6(bare.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** Eight 16-bit groups of a valid IPv6 address (`::` and a dotted IPv4 tail expanded). */
function expandIPv6(ip: string): number[] {
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [parseInt(g, 16)];
      const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = toGroups(head);
  if (tail === undefined) return h;
  const t = toGroups(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}
