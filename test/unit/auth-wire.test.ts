/**
 * The wire between Dovecot's side and the auth listener: what the listener
 * sends for each verdict is what checkpassword reads back, for every result.
 */
import type { Static } from '@sinclair/typebox';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AuthResult, AuthResultKind } from '../../src/auth/results.js';
import { VERIFY_RESULTS, isVerifyResultName, verifyAnswerFor, type VerifyRequest, type VerifyResultName } from '../../src/core/auth-wire.js';
import { readVerifyAnswer } from '../../src/dovecot/checkpassword/client.js';
import type { VerifyBody } from '../../src/http/auth-listener.js';

const verdicts: AuthResult[] = [
  { kind: 'ok', user: 'alice@example.org', extra: { userdb_home: '/var/vmail/example.org/alice' }, mailboxId: '7', credentialVersion: 3 },
  { kind: 'password_mismatch' },
  { kind: 'user_unknown' },
  { kind: 'user_disabled', reason: 'mailbox disabled' },
  { kind: 'pass_expired', mailboxId: '7', credentialVersion: 2 },
  { kind: 'internal_failure' },
  { kind: 'throttled' },
];

describe('auth wire', () => {
  it('names the same results as the daemon verdicts, and the listener accepts the same request shape', () => {
    expectTypeOf<VerifyResultName>().toEqualTypeOf<AuthResultKind>();
    expectTypeOf<Static<typeof VerifyBody>>().toEqualTypeOf<VerifyRequest>();
    expect([...VERIFY_RESULTS].sort()).toEqual(verdicts.map((v) => v.kind).sort());
  });

  it('sends refusals as 200, throttling as 429, an internal failure as 503; credentialVersion stays inside the daemon', () => {
    expect(verdicts.map((v) => verifyAnswerFor(v))).toEqual([
      { status: 200, body: { result: 'ok', user: 'alice@example.org', extra: { userdb_home: '/var/vmail/example.org/alice' } } },
      { status: 200, body: { result: 'password_mismatch' } },
      { status: 200, body: { result: 'user_unknown' } },
      { status: 200, body: { result: 'user_disabled', reason: 'mailbox disabled' } },
      { status: 200, body: { result: 'pass_expired' } },
      { status: 503, body: { result: 'internal_failure' } },
      { status: 429, body: { result: 'throttled' } },
    ]);
  });

  it('checkpassword reads back exactly what the listener sends, for every result', () => {
    for (const v of verdicts) {
      const { status, body } = verifyAnswerFor(v);
      expect(readVerifyAnswer(status, JSON.parse(JSON.stringify(body)), 'someone@example.org'), v.kind).toEqual({ kind: 'answer', answer: body });
    }
  });

  it('knows its result names and nothing else', () => {
    for (const r of VERIFY_RESULTS) expect(isVerifyResultName(r)).toBe(true);
    for (const other of ['OK', 'fail', '', 'toString', null, 1, undefined, ['ok']]) expect(isVerifyResultName(other), String(other)).toBe(false);
  });
});
