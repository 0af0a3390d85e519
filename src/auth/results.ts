import type { Outcome } from './throttle.js';

/** The closed set of passdb answers (DESIGN §3), mapped 1:1 onto Dovecot's PASSDB_RESULT_*. */
export type AuthResult =
  /**
   * mailboxId + credentialVersion: the row and version whose password matched, so a
   * change can be bound to them (self-service): a mailbox deleted and re-created
   * in between starts again at version 1 under a new id.
   */
  | { kind: 'ok'; user: string; extra: Record<string, string>; mailboxId: string; credentialVersion: number; appPasswordId?: string }
  | { kind: 'password_mismatch' }
  | { kind: 'user_unknown' }
  | { kind: 'user_disabled'; reason: string }
  | { kind: 'pass_expired'; mailboxId: string; credentialVersion: number }
  | { kind: 'throttled' }
  | { kind: 'internal_failure' };

export type AuthResultKind = AuthResult['kind'];

export interface AuthRequest {
  user: string;
  password: string;
  service: string;
  remoteIp: string | null;
  /** The address Dovecot's peer really has (Dovecot's real_remote_ip), when a trusted proxy forwarded another. */
  realRemoteIp?: string | null;
  localIp: string | null;
  session: string | null;
}

/** The right password (even for a disabled or expired mailbox) is not a guess; a failure of ours is neither. */
export function outcomeOf(result: AuthResult): Outcome {
  switch (result.kind) {
    case 'ok':
    case 'user_disabled':
    case 'pass_expired':
      return 'success';
    case 'password_mismatch':
    case 'user_unknown':
      return 'failure';
    case 'throttled':
    case 'internal_failure':
      return 'unknown';
  }
}
