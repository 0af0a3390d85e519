import { describe, expect, it } from 'vitest';
import { ipGroup, Throttle } from '../../src/auth/throttle.js';

const limits = { perUserIp: 3, perIp: 5, perUser: 4, windowMs: 60_000 };
const T0 = 1_000_000;

/** Starts `n` attempts at once; each resolves to its admission. */
const burst = (t: Throttle, n: number, user: (i: number) => string, ip: string | null) =>
  Array.from({ length: n }, (_, i) => ({ user: user(i), ip, admitted: t.acquire(user(i), ip) }));

describe('Throttle: only failures lock', () => {
  it('right passwords never lock, however many: 50 sequential successes, then still admitted', () => {
    const t = new Throttle(limits);
    for (let i = 0; i < 50; i++) {
      expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
      t.settle('alice', '192.0.2.1', 'success', T0);
    }
    expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
  });

  it('parallel right passwords beyond the budget wait for earlier ones instead of being refused: 64 of one user all admitted', async () => {
    const t = new Throttle(limits);
    const attempts = burst(t, 64, () => 'alice', '192.0.2.1');
    let admitted = 0;
    for (const a of attempts) {
      expect(await a.admitted).toBe(true);
      admitted++;
      t.settle(a.user, a.ip, 'success');
    }
    expect(admitted).toBe(64);
  });

  it('150 users from one ip, all right: all admitted, never more in flight than the per-ip budget', async () => {
    const t = new Throttle({ ...limits, perUser: 50 });
    let inFlight = 0;
    let peak = 0;
    const attempts = Array.from({ length: 150 }, (_, i) =>
      t.acquire(`user${i}`, '192.0.2.1').then(async (ok) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await Promise.resolve();
        inFlight--;
        t.settle(`user${i}`, '192.0.2.1', 'success');
        return ok;
      }),
    );
    expect((await Promise.all(attempts)).every(Boolean)).toBe(true);
    expect(peak).toBeLessThanOrEqual(limits.perIp);
  });

  it('a parallel spray of 200 wrong guesses: exactly the limit admitted, the rest refused once those failed', async () => {
    const t = new Throttle(limits);
    const attempts = burst(t, 200, () => 'alice', '192.0.2.1');
    const settled = await Promise.all(
      attempts.map(async (a) => {
        const ok = await a.admitted;
        if (ok) t.settle(a.user, a.ip, 'failure');
        return ok;
      }),
    );
    expect(settled.filter(Boolean).length).toBe(limits.perUserIp);
    expect(t.tryAcquire('alice', '192.0.2.1')).toBe(false);
  });

  it('a spray over many users from one ip stops at the per-ip limit; another ip is unaffected', async () => {
    const t = new Throttle(limits);
    const attempts = burst(t, 40, (i) => `user${i}`, '198.51.100.7');
    const admitted = await Promise.all(
      attempts.map(async (a) => {
        const ok = await a.admitted;
        if (ok) t.settle(a.user, a.ip, 'failure');
        return ok;
      }),
    );
    expect(admitted.filter(Boolean).length).toBe(limits.perIp);
    expect(t.tryAcquire('user0', '198.51.100.8')).toBe(true);
  });

  it('after the per-(user, ip) limit of failures even the right password is refused until the window ends', () => {
    const t = new Throttle(limits);
    for (let i = 0; i < limits.perUserIp; i++) {
      expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
      t.settle('alice', '192.0.2.1', 'failure', T0);
    }
    expect(t.tryAcquire('alice', '192.0.2.1', T0 + 1)).toBe(false);
    expect(t.tryAcquire('alice', '192.0.2.1', T0 + limits.windowMs)).toBe(true);
  });

  it('a success clears the (user, ip) failures but not the ip\'s', () => {
    const t = new Throttle({ ...limits, perIp: 4 });
    for (let i = 0; i < 2; i++) {
      t.tryAcquire('alice', '192.0.2.1', T0);
      t.settle('alice', '192.0.2.1', 'failure', T0);
    }
    t.tryAcquire('alice', '192.0.2.1', T0);
    t.settle('alice', '192.0.2.1', 'success', T0);
    for (let i = 0; i < 2; i++) {
      expect(t.tryAcquire(`other${i}`, '192.0.2.1', T0)).toBe(true);
      t.settle(`other${i}`, '192.0.2.1', 'failure', T0);
    }
    expect(t.tryAcquire('bob', '192.0.2.1', T0)).toBe(false);
  });

  it('an unknown outcome (database down) gives the share back without counting', () => {
    const t = new Throttle(limits);
    for (let i = 0; i < 20; i++) {
      expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
      t.settle('alice', '192.0.2.1', 'unknown', T0);
    }
  });

  it('an attempt that needed no argon2 (a memo hit) takes no share and gives none back; its failure still counts', () => {
    const t = new Throttle({ ...limits, perUserIp: 2 });
    expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
    expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
    t.record('alice', '192.0.2.1', 'success', T0);
    // The two in flight still hold the whole budget.
    expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(false);
    expect(t.isLocked('alice', '192.0.2.1', T0)).toBe(false);
    t.record('bob', '192.0.2.1', 'failure', T0);
    t.record('bob', '192.0.2.1', 'failure', T0);
    expect(t.isLocked('bob', '192.0.2.1', T0)).toBe(true);
  });

  it('a waiter whose caller gives up leaves the queue, and its keys are not left in flight', async () => {
    const t = new Throttle({ ...limits, perUserIp: 1 });
    expect(t.tryAcquire('alice', '192.0.2.1')).toBe(true);
    const giveUp = new AbortController();
    const waiting = t.acquire('alice', '192.0.2.1', giveUp.signal);
    giveUp.abort();
    expect(await waiting).toBe(false);
    t.settle('alice', '192.0.2.1', 'success');
    expect(t.size).toBe(1); // only the (user, ip) record of the success: nothing left in flight
  });
});

describe('Throttle: keys', () => {
  it('groups IPv6 by /64 and IPv4-mapped IPv6 as IPv4', () => {
    expect(ipGroup('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipGroup('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipGroup('::ffff:192.0.2.9')).toBe('192.0.2.9');
    expect(ipGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(ipGroup('192.0.2.9')).toBe('192.0.2.9');
    expect(ipGroup('not an address')).toBe(ipGroup('another made-up value'));
  });

  it('a spray rotating through one /64 hits the per-ip limit', () => {
    const t = new Throttle(limits);
    for (let i = 0; i < limits.perIp; i++) {
      expect(t.tryAcquire(`u${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`, T0)).toBe(true);
      t.settle(`u${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`, 'failure', T0);
    }
    expect(t.tryAcquire('u99', '2001:db8:1:2:dead:beef::1', T0)).toBe(false);
    expect(t.tryAcquire('u99', '2001:db8:1:3::1', T0)).toBe(true);
  });

  it('caps one user across ips; an ip that logged the user in within the window is exempt', () => {
    const t = new Throttle({ ...limits, perUserIp: 100, perIp: 100 });
    t.tryAcquire('alice', '192.0.2.1', T0);
    t.settle('alice', '192.0.2.1', 'success', T0);
    for (let i = 0; i < limits.perUser; i++) {
      expect(t.tryAcquire('alice', `203.0.113.${i}`, T0)).toBe(true);
      t.settle('alice', `203.0.113.${i}`, 'failure', T0);
    }
    expect(t.tryAcquire('alice', '203.0.113.200', T0)).toBe(false);
    expect(t.tryAcquire('alice', '192.0.2.1', T0)).toBe(true);
  });
});

describe('Throttle: bounded memory without resetting lockouts', () => {
  it('past maxTracked keys the least recently used idle ones go, a locked key survives a flood of fresh ones', () => {
    const t = new Throttle({ ...limits, maxTracked: 100 });
    for (let i = 0; i < limits.perUserIp; i++) {
      t.tryAcquire('victim', '192.0.2.1', T0);
      t.settle('victim', '192.0.2.1', 'failure', T0);
    }
    for (let i = 0; i < 5_000; i++) {
      t.tryAcquire(`fresh${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, T0);
      t.settle(`fresh${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'failure', T0);
    }
    expect(t.size).toBeLessThanOrEqual(100 + 8);
    expect(t.tryAcquire('victim', '192.0.2.1', T0)).toBe(false);
  });
});
