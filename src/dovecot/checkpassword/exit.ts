/**
 * checkpassword's exit status, as Dovecot reads it:
 *   0    authenticated (the reply program's 0)
 *   1    refused: wrong password, unknown or disabled user, throttled,
 *        password expired (the protocol has no separate "expired"), or input
 *        that cannot be a valid request (oversize, truncated)
 *   2    lookup succeeded (AUTHORIZED=1 mode; the reply program's 2)
 *   3    lookup: user unknown
 *   111  temporary failure: the daemon is unreachable, slow, answered 5xx or
 *        something unparseable; fd 3 did not deliver in time. Dovecot answers
 *        the client with a temporary failure, never "wrong password".
 *
 * Each step of a run ends here: either an exit status (with the line for
 * Dovecot's log, if any) or "run the reply program with these fields".
 */
import type { VerifyAnswer } from '../../core/auth-wire.js';
import type { UserdbOutcome, VerifyOutcome } from './client.js';
import { MAX_INPUT_BYTES, type InputResult } from './input.js';
import type { ReplyEnd } from './reply.js';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_LOOKUP_OK = 2;
export const EXIT_LOOKUP_UNKNOWN = 3;
export const EXIT_TEMPFAIL = 111;

export type ExitStep = { kind: 'exit'; code: number; log?: string };

export type Step =
  | ExitStep
  /** fields: Dovecot field names (`userdb_*`); authorized: a lookup, the reply program exits 2. */
  | { kind: 'reply'; user: string; fields: Record<string, string>; authorized: boolean };

export const exit = (code: number, log?: string): ExitStep => (log === undefined ? { kind: 'exit', code } : { kind: 'exit', code, log });

/** After reading fd 3 failed. A malformed request is refused; a slow or broken fd 3 is temporary. */
export function afterInput(input: Exclude<InputResult, { kind: 'ok' }>, timeoutMs: number): ExitStep {
  switch (input.kind) {
    case 'oversize':
      return exit(EXIT_REFUSED, `input on fd 3 longer than ${MAX_INPUT_BYTES} bytes`);
    case 'truncated':
      return exit(EXIT_REFUSED, 'input on fd 3 is not user\\0password\\0');
    case 'timeout':
      return exit(EXIT_TEMPFAIL, `no complete input on fd 3 within ${timeoutMs} ms`);
    case 'error':
      return exit(EXIT_TEMPFAIL, input.message);
  }
}

/** After POST /v1/passdb/verify of `user`. authUrl names the listener in log lines. */
export function afterVerify(outcome: VerifyOutcome, authUrl: string, user: string): Step {
  if (outcome.kind === 'failed') return exit(EXIT_TEMPFAIL, `auth listener ${authUrl}: ${outcome.why}`);
  return exitForAnswer(outcome.answer, user);
}

function exitForAnswer(answer: VerifyAnswer, user: string): Step {
  switch (answer.result) {
    case 'ok':
      return { kind: 'reply', user: answer.user, fields: answer.extra, authorized: false };
    case 'password_mismatch':
    case 'user_unknown':
    case 'user_disabled':
    case 'throttled':
      return exit(EXIT_REFUSED);
    case 'pass_expired':
      // checkpassword cannot say "expired"; the client sees a failed login.
      return exit(EXIT_REFUSED, `password of ${user} has expired`);
    case 'internal_failure':
      return exit(EXIT_TEMPFAIL, 'auth listener reported an internal failure');
  }
}

/**
 * A credential lookup (CREDENTIALS_LOOKUP=1: CRAM-MD5 and other
 * non-plaintext mechanisms) wants the stored hash, which mailpassd never
 * hands out. 111 rather than 1: it is a configuration to fix, not a wrong password.
 */
export function credentialLookup(scheme: string | undefined, mechanism: string | undefined): ExitStep {
  return exit(
    EXIT_TEMPFAIL,
    `credential lookup (scheme ${scheme ?? '?'}, mechanism ${mechanism ?? '?'}) refused: ` +
      'mailpassd verifies plaintext passwords only; allow only PLAIN/LOGIN (auth_mechanisms)',
  );
}

/** After GET /v1/userdb/<user> (AUTHORIZED=1): the fields go to the reply program prefixed `userdb_`. */
export function afterLookup(outcome: UserdbOutcome, authUrl: string): Step {
  switch (outcome.kind) {
    case 'failed':
      return exit(EXIT_TEMPFAIL, `auth listener ${authUrl}: ${outcome.why}`);
    case 'unknown':
      return exit(EXIT_LOOKUP_UNKNOWN);
    case 'found': {
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(outcome.fields)) fields[`userdb_${k}`] = v;
      return { kind: 'reply', user: outcome.user, fields, authorized: true };
    }
  }
}

/** Our status is the reply program's; if it could not run or was killed, the login is retried later. */
export function afterReply(end: ReplyEnd, cmd: string): ExitStep {
  switch (end.kind) {
    case 'exited':
      return exit(end.code);
    case 'killed':
      return exit(EXIT_TEMPFAIL, `${cmd} killed by ${end.signal}`);
    case 'not_started':
      return exit(EXIT_TEMPFAIL, `cannot run ${cmd}: ${end.why}`);
  }
}
