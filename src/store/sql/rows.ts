/** Row shapes, one place for all tables (DESIGN §2). */
export interface DomainRow {
  name: string;
  enabled: boolean;
  disabled_reason: string | null;
  policy: Record<string, unknown>;
  created_at: Date;
  mailbox_count?: number;
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
};

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
