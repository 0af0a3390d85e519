/** Row shapes, one place for all tables (DESIGN §2). */
export interface DomainRow {
  name: string;
  enabled: boolean;
  disabled_reason: string | null;
  policy: Record<string, unknown>;
  created_at: Date;
  mailbox_count?: number;
  /** Notices by mail for its mailboxes (when [notices] enabled). */
  notices: boolean;
  notice_language: string | null;
}

export interface MailboxRow {
  id: string;
  address: string;
  domain: string;
  display_name: string | null;
  password_hash: string;
  credential_version: number;
  password_changed_at: Date;
  password_expires_at: Date | null;
  must_change: boolean;
  enabled: boolean;
  disabled_reason: string | null;
  quota_bytes: string | null;
  home: string | null;
  uid: string | null;
  gid: string | null;
  mail_location: string | null;
  created_at: Date;
  updated_at: Date;
  /** Where password-changed notices also go. */
  recovery_address: string | null;
  /** Language of the notices; null: the domain's. */
  notice_language: string | null;
}

/** What a login needs of a mailbox (and of its domain): fewer columns to fetch and parse on the hot path. */
export type AuthRow = Pick<
  MailboxRow,
  | 'id'
  | 'address'
  | 'domain'
  | 'password_hash'
  | 'credential_version'
  | 'enabled'
  | 'disabled_reason'
  | 'password_expires_at'
  | 'must_change'
  | 'quota_bytes'
  | 'home'
  | 'uid'
  | 'gid'
  | 'mail_location'
> & {
  domain_enabled: boolean;
  domain_disabled_reason: string | null;
  /** The mailbox's or its domain's flag, or TOTP on for the mailbox: mail clients must use an app password. */
  require_app_passwords: boolean;
  /** The app password the login's password is (by HMAC), if any: its id, scopes and expiry. */
  app_password_id: string | null;
  app_password_scopes: string[] | null;
  app_password_expires_at: Date | null;
};

export interface AppPasswordRow {
  id: string;
  mailbox_id: string;
  name: string;
  scopes: string[];
  expires_at: Date | null;
  created_at: Date;
  last_used_at: Date | null;
  last_used_ip: string | null;
  last_used_service: string | null;
}

export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  source_ip: string | null;
  details: Record<string, unknown>;
}

export interface TokenRow {
  id: string;
  name: string;
  domain: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface InvalidationRow {
  id: string;
  address: string;
  reason: string;
  kick: boolean;
  /** A revoked app password: a node that can tell its sessions apart kicks only those. */
  app_password_id: string | null;
  created_at: Date;
}

export interface NodeRow {
  node_id: string;
  hostname: string;
  started_at: Date;
  heartbeat_at: Date;
  applied_invalidation_id: string;
  last_error: string | null;
  doveadm: string;
  stale: boolean;
  /** Invalidations this node gave up on after its retry budget (still listed in invalidation_failures). */
  failed_invalidations: number;
  last_failed_invalidation_id: string | null;
}

export interface InvalidationFailureRow {
  node_id: string;
  invalidation_id: string;
  attempts: number;
  error: string;
  failed_at: Date;
}

export interface NoticeJobRow {
  id: string;
  kind: 'password_changed' | 'expiry_reminder';
  mailbox_id: string | null;
  recipient: string;
  language: 'en' | 'nl';
  details: Record<string, unknown>;
  credential_version: number | null;
  reminder_days: number | null;
  state: 'queued' | 'sending' | 'sent' | 'failed' | 'skipped';
  attempts: number;
  run_at: Date;
  claim_token: string | null;
  claimed_by: string | null;
  claimed_at: Date | null;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
}

/** An admin role with its holder's address; domain null = global. */
export interface AdminRoleRow {
  address: string;
  domain: string | null;
  granted_at: Date;
  granted_by: string;
}

/** A console session joined with what findSession needs of its mailbox and domain. */
export interface ConsoleSessionRow {
  id: string;
  mailbox_id: string;
  address: string;
  display_name: string | null;
  csrf_token: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  /** The session is within both timeouts and its mailbox and domain are enabled. */
  live: boolean;
  /** last_seen_at is older than a minute: worth touching. */
  stale_touch: boolean;
  /** The mailbox's admin roles: a domain each, null for the global role. */
  roles: Array<string | null>;
}

export interface InvalidationResultRow {
  node_id: string;
  applied_ms: number;
  kicked: number | null;
}
