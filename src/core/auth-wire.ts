/**
 * What travels between Dovecot's side (checkpassword, the Lua script) and the
 * auth listener: the paths, the verify request, the closed set of answers and
 * the HTTP status each answer is sent with. Both ends import it from here, so
 * a result added on one side is a compile error on the other.
 *
 * Plain types and constants, no imports: checkpassword loads this on every
 * login fork, and the listener's TypeBox schema stays beside the listener.
 */

export const VERIFY_PATH = '/v1/passdb/verify';

/** GET `${USERDB_PATH}${encodeURIComponent(user)}`: 200 the userdb fields, 404 `user_unknown`, 503 `internal_failure`. */
export const USERDB_PATH = '/v1/userdb/';

/** The body of POST /v1/passdb/verify. Optional fields are left out, never sent empty. */
export interface VerifyRequest {
  user: string;
  password: string;
  service?: string;
  remote_ip?: string;
  /** Dovecot's real_remote_ip: the peer itself when a trusted proxy (webmail) forwards another address. */
  real_remote_ip?: string;
  local_ip?: string;
  session?: string;
}

/** The answers, one per Dovecot PASSDB_RESULT_* mailpassd can give. */
export const VERIFY_RESULTS = ['ok', 'password_mismatch', 'user_unknown', 'user_disabled', 'pass_expired', 'internal_failure', 'throttled'] as const;

export type VerifyResultName = (typeof VERIFY_RESULTS)[number];

export type VerifyAnswer =
  /** user: the canonical address (Dovecot renames the login to it); extra: Dovecot fields, `userdb_*` only. */
  | { result: 'ok'; user: string; extra: Record<string, string> }
  | { result: 'password_mismatch' }
  | { result: 'user_unknown' }
  | { result: 'user_disabled'; reason: string }
  | { result: 'pass_expired' }
  | { result: 'internal_failure' }
  | { result: 'throttled' };

/**
 * The HTTP status each answer is sent with. A refusal is a 200 (the request
 * was served); throttling is 429 and an internal failure 503, so that a
 * client reading only the status still tells "no" from "try again".
 */
export const VERIFY_STATUS: { readonly [R in VerifyResultName]: 200 | 429 | 503 } = {
  ok: 200,
  password_mismatch: 200,
  user_unknown: 200,
  user_disabled: 200,
  pass_expired: 200,
  internal_failure: 503,
  throttled: 429,
};

export function isVerifyResultName(value: unknown): value is VerifyResultName {
  return typeof value === 'string' && (VERIFY_RESULTS as readonly string[]).includes(value);
}

/**
 * The daemon's verdict as far as the wire is concerned: the shape of
 * auth/results.ts's AuthResult without what stays inside the daemon
 * (mailboxId, credentialVersion). Written structurally because core/ sits below auth/.
 */
export type VerifyVerdict =
  | { kind: 'ok'; user: string; extra: Record<string, string> }
  | { kind: 'password_mismatch' }
  | { kind: 'user_unknown' }
  | { kind: 'user_disabled'; reason: string }
  | { kind: 'pass_expired' }
  | { kind: 'internal_failure' }
  | { kind: 'throttled' };

/** The answer the auth listener sends for a verdict, and its status. */
export function verifyAnswerFor(verdict: VerifyVerdict): { status: 200 | 429 | 503; body: VerifyAnswer } {
  const body = answerBody(verdict);
  return { status: VERIFY_STATUS[body.result], body };
}

function answerBody(verdict: VerifyVerdict): VerifyAnswer {
  switch (verdict.kind) {
    case 'ok':
      return { result: 'ok', user: verdict.user, extra: verdict.extra };
    case 'user_disabled':
      return { result: 'user_disabled', reason: verdict.reason };
    case 'password_mismatch':
    case 'user_unknown':
    case 'pass_expired':
    case 'internal_failure':
    case 'throttled':
      return { result: verdict.kind };
  }
}
