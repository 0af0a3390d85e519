/**
 * The one error model. Every failure that leaves a module carries a stable code
 * from ERRORS; the code fixes its kind, and the kind fixes the HTTP status (the
 * problem+json answer, src/http/problem.ts) and the CLI exit status (CONTRACT).
 * A new code is added here, once, or it cannot be thrown or sent: the code
 * parameters below are typed `ErrorCode`.
 */

/** What went wrong, as far as a caller needs to know: each kind has one HTTP status and one exit status. */
export const KINDS = {
  /** The caller asked wrongly: a bad flag, a malformed request or body. */
  usage: { status: 400, exit: 64 },
  unauthorized: { status: 401, exit: 1 },
  forbidden: { status: 403, exit: 1 },
  not_found: { status: 404, exit: 1 },
  conflict: { status: 409, exit: 1 },
  too_large: { status: 413, exit: 64 },
  uri_too_long: { status: 414, exit: 64 },
  unsupported_media_type: { status: 415, exit: 64 },
  /** Well-formed but refused: a password the policy rejects, a hash we cannot take. */
  refused: { status: 422, exit: 1 },
  throttled: { status: 429, exit: 1 },
  /** Cannot be answered now (database, a busy resource): try again; never a "no". */
  unavailable: { status: 503, exit: 69 },
  config: { status: 500, exit: 78 },
  /** A bug or a broken invariant: logged, answered without internals. */
  internal: { status: 500, exit: 70 },
} as const satisfies Record<string, { status: number; exit: number }>;

export type ErrorKind = keyof typeof KINDS;

/**
 * Every stable code the product emits, with its kind. Clients and scripts key on
 * these codes, so a code is never renamed or given another meaning.
 */
export const ERRORS = {
  // usage: the request or the command line is wrong.
  invalid_request: 'usage', // a body, parameter or query that fails its schema
  bad_request: 'usage', // a malformed request fastify refused for a reason we do not name
  invalid_json: 'usage',
  invalid_utf8: 'usage',
  invalid_form: 'usage',
  empty_body: 'usage',
  invalid_content_length: 'usage',
  invalid_path: 'usage',
  invalid_remote_ip: 'usage',
  invalid_domain: 'usage',
  invalid_address: 'usage',
  invalid_token_name: 'usage',
  invalid_quota: 'usage',
  invalid_policy_value: 'usage',
  invalid_wait: 'usage',
  invalid_language: 'usage',
  // app passwords (issue 13)
  invalid_app_password_name: 'usage',
  invalid_app_password_scope: 'usage',
  invalid_app_password_expiry: 'usage',
  invalid_cursor: 'usage',
  invalid_admin_role: 'usage', // neither or both of global and domain
  password_conflict: 'usage',
  password_missing: 'usage',
  password_mismatch_typed: 'usage',
  stdin_too_large: 'usage',
  no_tty: 'usage',
  aborted: 'usage',
  body_too_large: 'too_large',
  path_too_long: 'uri_too_long',
  unsupported_media_type: 'unsupported_media_type',

  // who is asking
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  cross_origin: 'forbidden',
  wrong_current_password: 'forbidden',
  throttled: 'throttled',

  route_not_found: 'not_found',
  domain_not_found: 'not_found',
  mailbox_not_found: 'not_found',
  token_not_found: 'not_found',
  node_not_found: 'not_found',
  app_password_not_found: 'not_found',
  totp_not_enrolled: 'not_found', // a TOTP reset of a mailbox without a second factor: nothing to reset
  admin_not_found: 'not_found', // the mailbox holds no such admin role
  // The Roundcube driver's self-service routes while self_service.secret is unset.
  self_service_driver_off: 'not_found',

  domain_exists: 'conflict',
  domain_not_empty: 'conflict',
  domain_policy_contended: 'conflict',
  mailbox_exists: 'conflict',
  token_exists: 'conflict',
  app_password_exists: 'conflict',
  admin_exists: 'conflict',
  rotation_contended: 'conflict',
  credential_changed: 'conflict',

  // refused: the password input check (policy/password-input.ts) and the policy.
  password_empty: 'refused',
  password_whitespace: 'refused',
  // A new password over the limit is refused like any other (422); a password
  // given as the credential to check (a login, self-service `curpass`) is a
  // malformed request (400). The one code with two kinds; the first is the one thrown.
  password_too_long: ['refused', 'usage'],
  password_not_utf8: 'refused',
  password_control_chars: 'refused',
  policy_refused: 'refused',
  invalid_policy_override: 'refused',
  unknown_hash_scheme: 'refused',
  hash_too_costly: 'refused',
  import_invalid: 'refused',

  database_unavailable: 'unavailable',
  temporarily_unavailable: 'unavailable',
  migrations_pending: 'unavailable',
  daemon_running: 'unavailable',
  daemon_lock: 'unavailable',
  listen_in_use: 'unavailable',
  listen_failed: 'unavailable',
  embedded_unsupported: 'unavailable',
  embedded_no_user: 'unavailable',
  embedded_initdb_failed: 'unavailable',
  embedded_start_failed: 'unavailable',
  embedded_not_listening: 'unavailable',
  embedded_data_unreachable: 'config',
  worker_exited: 'unavailable',
  argon2_overloaded: 'unavailable',
  doveadm_failed: 'unavailable',

  config_invalid: 'config',
  config_unknown_key: 'config',
  config_file_missing: 'config',
  config_file_unreadable: 'config',
  config_file_invalid: 'config',
  node_id_in_use: 'config',

  internal_error: 'internal',
  password_generation_failed: 'internal',
  policy_worker_failed: 'internal',
  legacy_verify_failed: 'internal',
} as const satisfies Record<string, ErrorKind | readonly [ErrorKind, ...ErrorKind[]]>;

export type ErrorCode = keyof typeof ERRORS;

/** The kinds a code may be answered with; a thrown error always has the first. */
export type KindsOf<C extends ErrorCode> = Extract<(typeof ERRORS)[C] extends readonly (infer K)[] ? K : (typeof ERRORS)[C], ErrorKind>;
type PrimaryKindOf<C extends ErrorCode> = (typeof ERRORS)[C] extends readonly [infer K, ...unknown[]] ? K : (typeof ERRORS)[C];
/** The codes thrown with kind K. */
export type CodeOf<K extends ErrorKind> = { [C in ErrorCode]: PrimaryKindOf<C> extends K ? C : never }[ErrorCode];

export function kindOf(code: ErrorCode): ErrorKind {
  const entry: ErrorKind | readonly ErrorKind[] = ERRORS[code];
  return typeof entry === 'string' ? entry : entry[0]!;
}

export const httpStatusOf = (kind: ErrorKind): number => KINDS[kind].status;
/** CONTRACT exit statuses: 0 ok, 1 refused/not found/conflict, 64 usage, 69 unavailable, 78 config, 70 internal. */
export const exitCodeFor = (kind: ErrorKind): number => KINDS[kind].exit;

export class MailpassdError extends Error {
  readonly kind: ErrorKind;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MailpassdError';
    this.kind = kindOf(code);
  }

  /** fastify's name for the HTTP status an error stands for. */
  get statusCode(): number {
    return httpStatusOf(this.kind);
  }
}

// Named for their kind, so a call reads as what it means; the type admits only the codes of that kind.
export const notFound = (code: CodeOf<'not_found'>, message: string) => new MailpassdError(code, message);
export const conflict = (code: CodeOf<'conflict'>, message: string) => new MailpassdError(code, message);
export const refused = (code: CodeOf<'refused'>, message: string, details: Record<string, unknown> = {}) => new MailpassdError(code, message, details);
export const usage = (code: CodeOf<'usage'>, message: string) => new MailpassdError(code, message);
export const unavailable = (code: CodeOf<'unavailable'>, message: string) => new MailpassdError(code, message);
export const internal = (code: CodeOf<'internal'>, message: string) => new MailpassdError(code, message);
