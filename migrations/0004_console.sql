-- The web console (issue 12): admin roles, console sessions, per-node apply results.

-- A role is granted to a mailbox: its own password is the console login. domain
-- NULL = global admin. One row per mailbox and domain, and at most one global
-- row per mailbox: the unique index reads NULL as '' (no domain is named '';
-- NULLS NOT DISTINCT would need PostgreSQL 15 on an external server).
CREATE TABLE admin_roles (
  id          bigserial PRIMARY KEY,
  mailbox_id  bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  domain      text REFERENCES domains(name) ON DELETE CASCADE,
  granted_at  timestamptz NOT NULL DEFAULT now(),
  granted_by  text NOT NULL
);
CREATE UNIQUE INDEX admin_roles_unique ON admin_roles (mailbox_id, (COALESCE(domain, '')));
CREATE INDEX admin_roles_domain_idx ON admin_roles (domain);

-- Server-side console sessions. Only the SHA-256 of the cookie's token is stored;
-- `id` is a public name for logs and for "keep this session" on a password change.
CREATE TABLE console_sessions (
  id            text PRIMARY KEY,
  token_sha256  bytea NOT NULL UNIQUE,
  mailbox_id    bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  ip            text,
  user_agent    text
);
CREATE INDEX console_sessions_mailbox_idx ON console_sessions (mailbox_id);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- When each node applied each invalidation, and how many sessions doveadm kicked
-- there (NULL: no kick asked, or the doveadm form does not say). Written by the
-- node with its cursor; pruned with the invalidation (cascade).
CREATE TABLE invalidation_results (
  invalidation_id  bigint NOT NULL REFERENCES invalidations(id) ON DELETE CASCADE,
  node_id          text NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,
  applied_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  kicked           integer,
  PRIMARY KEY (invalidation_id, node_id)
);

-- applied_ms is measured from the invalidation's created_at. now() is the
-- transaction's start; the invalidation is its last statement, so the statement's
-- clock is the closer stand-in for the commit. Both sides read the database's
-- clock, never a node's.
ALTER TABLE invalidations ALTER COLUMN created_at SET DEFAULT clock_timestamp();
