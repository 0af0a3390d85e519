import { describe, expect, it } from 'vitest';
import { VerificationMemo } from '../../src/auth/memo.js';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';
const ROTATED = '$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g';

describe('verification memo: keys', () => {
  it('one key per (stored hash, password): the same pair meets its entry, another password does not', () => {
    const memo = new VerificationMemo(60_000, 10);
    expect(memo.keyOf(HASH, 'Correct-Horse-1')).toBe(memo.keyOf(HASH, 'Correct-Horse-1'));
    expect(memo.keyOf(HASH, 'Correct-Horse-2')).not.toBe(memo.keyOf(HASH, 'Correct-Horse-1'));
  });

  it('a rotation changes the stored hash, so the old password can never hit an entry remembered before it', () => {
    const memo = new VerificationMemo(60_000, 10);
    memo.remember(memo.keyOf(HASH, 'old-password-1'));
    expect(memo.has(memo.keyOf(ROTATED, 'old-password-1'))).toBe(false);
  });

  it('keys come from a per-process secret and hold nothing of the password', () => {
    const a = new VerificationMemo(60_000, 10);
    const b = new VerificationMemo(60_000, 10);
    expect(a.keyOf(HASH, 'pw-secret-value')).not.toBe(b.keyOf(HASH, 'pw-secret-value'));
    const key = a.keyOf(HASH, 'pw-secret-value');
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/); // an HMAC-SHA256, base64
    expect(key).not.toContain('pw-secret-value');
  });

  it('the hash and the password cannot slide into each other', () => {
    const memo = new VerificationMemo(60_000, 10);
    expect(memo.keyOf('abc', 'def')).not.toBe(memo.keyOf('ab', 'cdef'));
    expect(memo.keyOf('abc', 'def')).not.toBe(memo.keyOf('abcd', 'ef'));
  });
});

describe('verification memo: lifetime and size', () => {
  it('an entry lives for the TTL and not a millisecond longer, and goes when found expired', () => {
    const memo = new VerificationMemo(1000, 10);
    const key = memo.keyOf(HASH, 'pw');
    memo.remember(key, 5_000);
    expect(memo.has(key, 5_999)).toBe(true);
    expect(memo.has(key, 6_000)).toBe(false);
    expect(memo.size).toBe(0);
  });

  it('remembering again restarts the TTL', () => {
    const memo = new VerificationMemo(1000, 10);
    const key = memo.keyOf(HASH, 'pw');
    memo.remember(key, 0);
    memo.remember(key, 900);
    expect(memo.has(key, 1_500)).toBe(true);
    expect(memo.size).toBe(1);
  });

  it('past max_entries the least recently remembered entry goes first', () => {
    const memo = new VerificationMemo(60_000, 2);
    const [a, b, c] = ['a', 'b', 'c'].map((pw) => memo.keyOf(HASH, pw)) as [string, string, string];
    memo.remember(a, 0);
    memo.remember(b, 0);
    memo.remember(a, 1); // a is now the most recent
    memo.remember(c, 2);
    expect(memo.size).toBe(2);
    expect(memo.has(a, 3)).toBe(true);
    expect(memo.has(b, 3)).toBe(false);
    expect(memo.has(c, 3)).toBe(true);
  });

  it('a TTL or a size of 0 turns it off: nothing is remembered', () => {
    for (const [ttl, max] of [
      [0, 10],
      [60_000, 0],
    ] as const) {
      const memo = new VerificationMemo(ttl, max);
      expect(memo.enabled).toBe(false);
      const key = memo.keyOf(HASH, 'pw');
      memo.remember(key, 0);
      expect(memo.has(key, 0)).toBe(false);
      expect(memo.size).toBe(0);
    }
  });
});
