/**
 * checkpassword's exit status for every outcome (the protocol Dovecot reads):
 * 0/2 from the reply program, 1 a refusal, 3 an unknown user on lookup, 111
 * a temporary failure. The line between 1 and 111 is the one that matters:
 * a 1 tells the user the password is wrong, a 111 makes Dovecot retry.
 */
import { describe, expect, it } from 'vitest';
import { EXIT_LOOKUP_UNKNOWN, EXIT_REFUSED, EXIT_TEMPFAIL, afterInput, afterLookup, afterReply, afterVerify, credentialLookup } from '../../src/dovecot/checkpassword/exit.js';

const URL = 'http://127.0.0.1:8081';

describe('after reading fd 3', () => {
  it('input that cannot be a request is refused (1); input that did not arrive is temporary (111)', () => {
    expect(afterInput({ kind: 'oversize' }, 5000)).toEqual({ kind: 'exit', code: EXIT_REFUSED, log: 'input on fd 3 longer than 4096 bytes' });
    expect(afterInput({ kind: 'truncated' }, 5000)).toEqual({ kind: 'exit', code: EXIT_REFUSED, log: 'input on fd 3 is not user\\0password\\0' });
    expect(afterInput({ kind: 'timeout' }, 5000)).toEqual({ kind: 'exit', code: EXIT_TEMPFAIL, log: 'no complete input on fd 3 within 5000 ms' });
    expect(afterInput({ kind: 'error', message: 'fd 3: EBADF' }, 5000)).toEqual({ kind: 'exit', code: EXIT_TEMPFAIL, log: 'fd 3: EBADF' });
  });
});

describe('after a verify', () => {
  const answer = (a: Parameters<typeof afterVerify>[0] & { kind: 'answer' }) => afterVerify(a, URL, 'alice@example.org');

  it('ok runs the reply program with the canonical user and the extra fields', () => {
    expect(answer({ kind: 'answer', answer: { result: 'ok', user: 'alice@example.org', extra: { userdb_uid: '5000' } } })).toEqual({
      kind: 'reply',
      user: 'alice@example.org',
      fields: { userdb_uid: '5000' },
      authorized: false,
    });
  });

  it('every refusal is 1: wrong password, unknown, disabled, throttled, expired (logged: the protocol has no "expired")', () => {
    for (const result of ['password_mismatch', 'user_unknown', 'throttled'] as const) {
      expect(answer({ kind: 'answer', answer: { result } }), result).toEqual({ kind: 'exit', code: EXIT_REFUSED });
    }
    expect(answer({ kind: 'answer', answer: { result: 'user_disabled', reason: 'x' } })).toEqual({ kind: 'exit', code: EXIT_REFUSED });
    expect(answer({ kind: 'answer', answer: { result: 'pass_expired' } })).toEqual({ kind: 'exit', code: EXIT_REFUSED, log: 'password of alice@example.org has expired' });
  });

  it('an internal failure of the daemon and no usable answer are 111, never 1', () => {
    expect(answer({ kind: 'answer', answer: { result: 'internal_failure' } })).toMatchObject({ kind: 'exit', code: EXIT_TEMPFAIL });
    expect(afterVerify({ kind: 'failed', why: 'ECONNREFUSED' }, URL, 'alice@example.org')).toEqual({
      kind: 'exit',
      code: EXIT_TEMPFAIL,
      log: `auth listener ${URL}: ECONNREFUSED`,
    });
  });
});

describe('after a userdb lookup (AUTHORIZED=1)', () => {
  it('found: the reply program gets the fields prefixed userdb_ and AUTHORIZED mode; unknown is 3; failed is 111', () => {
    expect(afterLookup({ kind: 'found', user: 'alice@example.org', fields: { home: '/h', uid: '5000' } }, URL)).toEqual({
      kind: 'reply',
      user: 'alice@example.org',
      fields: { userdb_home: '/h', userdb_uid: '5000' },
      authorized: true,
    });
    expect(afterLookup({ kind: 'unknown' }, URL)).toEqual({ kind: 'exit', code: EXIT_LOOKUP_UNKNOWN });
    expect(afterLookup({ kind: 'failed', why: 'answered HTTP 503 to a userdb lookup' }, URL)).toMatchObject({ kind: 'exit', code: EXIT_TEMPFAIL });
  });
});

describe('a credential lookup (CRAM-MD5 and the like)', () => {
  it('is 111 with the cause: mailpassd never hands out hashes, and a misconfiguration is not a wrong password', () => {
    expect(credentialLookup('CRAM-MD5', 'CRAM-MD5')).toEqual({
      kind: 'exit',
      code: EXIT_TEMPFAIL,
      log: 'credential lookup (scheme CRAM-MD5, mechanism CRAM-MD5) refused: mailpassd verifies plaintext passwords only; allow only PLAIN/LOGIN (auth_mechanisms)',
    });
    expect(credentialLookup(undefined, undefined)).toMatchObject({ code: EXIT_TEMPFAIL, log: expect.stringContaining('scheme ?, mechanism ?') });
  });
});

describe('after the reply program', () => {
  it('its exit status is ours; if it could not run or was killed, 111', () => {
    for (const code of [0, 1, 2, 111]) expect(afterReply({ kind: 'exited', code }, '/usr/lib/dovecot/checkpassword-reply')).toEqual({ kind: 'exit', code });
    expect(afterReply({ kind: 'killed', signal: 'SIGKILL' }, 'reply')).toEqual({ kind: 'exit', code: EXIT_TEMPFAIL, log: 'reply killed by SIGKILL' });
    expect(afterReply({ kind: 'not_started', why: 'ENOENT' }, 'reply')).toEqual({ kind: 'exit', code: EXIT_TEMPFAIL, log: 'cannot run reply: ENOENT' });
  });
});
