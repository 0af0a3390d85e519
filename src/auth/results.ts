/** The closed set of passdb answers (DESIGN §3), mapped 1:1 onto Dovecot's PASSDB_RESULT_*. */
export type AuthResult =
  | { kind: 'ok'; user: string; extra: Record<string, string> }
  | { kind: 'password_mismatch' }
  | { kind: 'user_unknown' }
  | { kind: 'user_disabled'; reason: string }
  | { kind: 'pass_expired' }
  | { kind: 'throttled' }
  | { kind: 'internal_failure' };

export type AuthResultKind = AuthResult['kind'];

export interface AuthRequest {
  user: string;
  password: string;
  service: string;
  remoteIp: string | null;
  localIp: string | null;
  session: string | null;
}
